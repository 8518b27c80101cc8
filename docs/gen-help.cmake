# SPDX-License-Identifier: Apache-2.0
# Turn docs/cmd/*.txt into a C table, so `evercert help X` prints the same
# text the man page is made from. Inputs: SRC (folder), DOCS (names), OUT.
separate_arguments(DOCS)
set(c "/* Generated from the files in docs/cmd by docs/gen-help.cmake. Do not edit. */\n")
string(APPEND c "#include \"cli/help.h\"\n\nconst struct evc_help evc_help_pages[] = {\n")
foreach(d ${DOCS})
  file(READ ${SRC}/${d}.txt text)
  string(REPLACE "\\" "\\\\" text "${text}")
  string(REPLACE "\"" "\\\"" text "${text}")
  string(REPLACE "\n" "\\n\"\n    \"" text "${text}")
  string(APPEND c "  {\"${d}\",\n    \"${text}\"},\n")
endforeach()
string(APPEND c "  {0, 0},\n};\n")
file(WRITE ${OUT} "${c}")
