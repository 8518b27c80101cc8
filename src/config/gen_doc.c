/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prints evercert.conf(5) as docs/cmd-style text from the key table, at
 * build time (docs/gen-man.cmake turns it into the page), so the manual
 * lists every key the parser knows, with the parser's defaults. Not part
 * of libevercert.
 */
#include <stdio.h>
#include <string.h>

#include "evercert/config.h"
#include "evercert/limits.h"
#include "config/keys.h"

#define EVC_T_ROW(t, form, words) {#t, form, words},
static const struct {
    const char *id, *form, *words;
} types[] = {EVC_CONFIG_TYPES(EVC_T_ROW)};
#undef EVC_T_ROW

#define EVC_K_ROW(sec, name, type, field, min, max, dflt, reload, doc)                             \
    {#sec, #name, #type, min, max, dflt, reload, doc},
static const struct {
    const char *section, *name, *type;
    int min, max;
    const char *dflt;
    int reloadable;
    const char *doc;
} keys[] = {EVC_CONFIG_KEYS(EVC_K_ROW)};
#undef EVC_K_ROW

#define EVC_S_ROW(s, name, what, doc) {#s, name, doc},
static const struct {
    const char *id, *name, *doc;
} sections[] = {EVC_CONFIG_SECTIONS(EVC_S_ROW)};
#undef EVC_S_ROW

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Print text indented, wrapped before 76 columns. */
static void
wrap(const char *indent, const char *text)
{
    size_t col = 0, in = strlen(indent);

    while (*text != '\0') {
        size_t n = strcspn(text, " ");

        if (col > 0 && col + 1 + n > 76) {
            putchar('\n');
            col = 0;
        }
        if (col == 0) {
            fputs(indent, stdout);
            col = in;
        } else {
            putchar(' ');
            col++;
        }
        fwrite(text, 1, n, stdout);
        col += n;
        text += n;
        text += strspn(text, " ");
    }
    if (col > 0) {
        putchar('\n');
    }
}

static const char *
form_of(const char *type)
{
    for (size_t i = 0; i < NELEM(types); i++) {
        if (strcmp(types[i].id, type) == 0) {
            return types[i].form;
        }
    }
    return "?";
}

int
main(void)
{
    char line[512];

    puts("NAME\n    evercert.conf - the configuration file of evercert\n");
    puts("SYNOPSIS\n    /etc/evercert/evercert.ini, or the FILE of --config\n");
    puts("DESCRIPTION");
    wrap("    ",
         "One file names the stores evercert-renew(1) and evercert-monitor(1) work on and the "
         "policy they follow, or the servers evercert-agent(1) follows, and how both tell people. "
         "evercert-check-config(1) checks a file without running anything.");
    puts("");
    puts("SYNTAX");
    wrap("    ",
         "INI. A line is a section header [NAME], a key = value (key: value is the same), a "
         "comment starting with ; or #, or blank. A ; after a blank ends a value (a comment on "
         "the same line). Blanks around names and values are dropped. A value is one line: an "
         "indented line after a key is an error. Text after the closing bracket of a header is "
         "ignored; a UTF-8 "
         "byte order mark may start the file.");
    puts("");
    wrap("    ",
         "The sections [policy], [monitor], [notify] and [agent] appear at most once; [store "
         "\"NAME\"] and "
         "[server \"NAME\"] once per name, the name in double quotes, without quotes or control "
         "characters inside. An unknown section or key, a key given twice in a section, a bad "
         "value or a missing required key is an error naming the file and the line, and nothing "
         "is used from the file.");
    puts("");
    snprintf(line, sizeof(line),
             "A file is at most %zu bytes and a line at most %d; at most %d stores and %d servers.",
             (size_t)EVC_CONFIG_FILE_MAX, EVC_CONFIG_LINE_MAX, EVC_CONFIG_STORES_MAX,
             EVC_CONFIG_STORES_MAX);
    wrap("    ", line);
    puts("");
    wrap("    ",
         "A relative PATH is taken from the directory of the file, not from where the command "
         "runs.");
    puts("");
    puts("RELOAD");
    wrap("    ",
         "SIGHUP makes the monitor and the agent read the file again. A bad file is refused with "
         "its file:line and the old configuration stays. A key marked \"restart\" below keeps its "
         "old value until a restart, and the change is logged as \"KEY changed in FILE:LINE; "
         "takes effect after a restart\".");
    puts("");
    puts("KEYS");
    for (size_t s = 0; s < NELEM(sections); s++) {
        const char *name = sections[s].name;

        if (strcmp(name, "store") == 0 || strcmp(name, "server") == 0) {
            printf("    [%s \"NAME\"]\n", name);
        } else {
            printf("    [%s]\n", name);
        }
        wrap("        ", sections[s].doc);
        for (size_t i = 0; i < NELEM(keys); i++) {
            if (strcmp(keys[i].section, sections[s].id) != 0) {
                continue;
            }
            printf("    %s = %s\n", keys[i].name, form_of(keys[i].type));
            wrap("        ", keys[i].doc);
            if (keys[i].min != keys[i].max && strcmp(keys[i].type, "SECONDS") == 0) {
                char lo[32], hi[32];

                evc_config_seconds_text(keys[i].min, lo, sizeof(lo));
                evc_config_seconds_text(keys[i].max, hi, sizeof(hi));
                snprintf(line, sizeof(line), "From %s to %s.", lo, hi);
                wrap("        ", line);
            } else if (keys[i].min != keys[i].max) {
                snprintf(line, sizeof(line), "From %d to %d.", keys[i].min, keys[i].max);
                wrap("        ", line);
            }
            snprintf(line, sizeof(line), "Default: %s. %s",
                     keys[i].dflt != NULL ? keys[i].dflt : "none",
                     keys[i].reloadable ? "A reload applies it." : "Needs a restart.");
            wrap("        ", line);
        }
        puts("");
    }
    puts("TYPES");
    for (size_t i = 0; i < NELEM(types); i++) {
        printf("    %s\n", types[i].form);
        wrap("        ", types[i].words);
    }
    puts("");
    puts("EXAMPLE");
    puts("    | [policy]\n"
         "    | expiration_threshold = 33%      ; a third of the lifetime\n"
         "    | distribution_window = 2d\n"
         "    |\n"
         "    | [store \"root\"]\n"
         "    | role = root\n"
         "    | path = root                     ; /etc/evercert/root\n"
         "    |\n"
         "    | [store \"web\"]\n"
         "    | role = personal\n"
         "    | cert = /etc/nginx/tls/site.crt\n"
         "    | key = /etc/nginx/tls/site.key\n"
         "    | after_replace = nginx -s reload\n"
         "    |\n"
         "    | [store \"trust\"]\n"
         "    | role = trust\n"
         "    | path = /etc/ssl/app-trust.pem\n"
         "    |\n"
         "    | [notify]\n"
         "    | log = syslog\n");
    puts("SEE ALSO");
    puts("    evercert-check-config(1), evercert-renew(1), evercert-monitor(1), evercert-agent(1)");
    return fflush(stdout) == 0 ? 0 : 1;
}
