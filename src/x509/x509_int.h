/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text forms of X.509 values, shared by every reader in this layer so a
 * certificate prints the same whichever way it was loaded.
 */
#ifndef EVC_X509_INT_H
#define EVC_X509_INT_H

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evercert/buf.h"

/* RFC 2253 as OpenSSL prints it, but with UTF-8 left readable. */
#define EVC_NAME_FLAGS (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)

/* Print name through the scratch bio into a new string *out. */
int evc_x509_name_text(BIO *bio, const X509_NAME *name, char **out, struct evc_err *err);

/* A serial number as upper-case hex into a new string *out. */
int evc_x509_serial_text(const ASN1_INTEGER *serial, char **out);

/* One subjectAltName entry: "DNS:x", "IP:1.2.3.4", "email:x", "URI:x", ... */
int evc_x509_general_name_text(BIO *bio, const GENERAL_NAME *gn, struct evc_buf *b);

/* "P-256" for prime256v1 and the other NIST curves; other names unchanged. */
const char *evc_x509_curve_text(const char *short_name);

#endif
