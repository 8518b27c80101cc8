/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Baseline (a): a single process reading every certificate of the given
 * files with OpenSSL's PEM_read_X509 and looking at notAfter, as a
 * hand-written checker would. Prints the number of certificates.
 */
#include <stdio.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

int
main(int argc, char **argv)
{
    long n = 0, late = 0;

    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        X509 *x;

        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
            late += X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
            n++;
            X509_free(x);
        }
        fclose(f);
    }
    printf("%ld %ld\n", n, late);
    return 0;
}
