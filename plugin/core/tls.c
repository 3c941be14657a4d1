/* The profiler port's TLS context: see tls.h. */
#include "core/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <openssl/x509.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* OpenSSL's last error, for the end of a message. */
static const char *ssl_why(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        snprintf(buf, len, "no detail");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* A file takhind can open: 0, or -1 with err naming key and path. */
static int readable(const char *key, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "profiler.%s = \"%s\": cannot read it: %s (check the path, and "
                 "that the user takhind runs as may read it)", key, path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* A passphrase-protected key is refused rather than prompted for: the
 * server has no terminal to ask on. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

static int load(SSL_CTX *ctx, const char *cert, const char *key, const char *client_ca,
                char *err, size_t errlen)
{
    char why[256];
    if (readable("tls.cert", cert, err, errlen) != 0 || readable("tls.key", key, err, errlen) != 0 ||
        (client_ca[0] && readable("tls.client_ca", client_ca, err, errlen) != 0))
        return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, errlen, "profiler.tls.cert = \"%s\": no usable PEM certificate in it "
                 "(%s); expected \"-----BEGIN CERTIFICATE-----\", the server's certificate "
                 "first, then its intermediates (DER converts with openssl x509 -inform der)",
                 cert, ssl_why(why, sizeof why));
        return -1;
    }
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    bool loaded = SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1;
    /* OpenSSL checks the pair as it loads the key: a key of another
     * certificate fails here, as a mismatch. */
    if (loaded ? SSL_CTX_check_private_key(ctx) != 1
               : ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        snprintf(err, errlen, "profiler.tls.key = \"%s\" does not match the certificate of "
                 "profiler.tls.cert = \"%s\" (%s): give the key the certificate was made for "
                 "(openssl x509 -noout -pubkey -in CERT and openssl pkey -pubout -in KEY "
                 "print the same key)", key, cert, ssl_why(why, sizeof why));
        return -1;
    }
    if (!loaded) {
        snprintf(err, errlen, "profiler.tls.key = \"%s\": no usable PEM private key in it "
                 "(%s); expected an unencrypted \"-----BEGIN PRIVATE KEY-----\" (openssl pkey "
                 "-in KEY -out KEY.new removes a passphrase)", key, ssl_why(why, sizeof why));
        return -1;
    }
    if (client_ca[0] == '\0')
        return 0;
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
    if (names == NULL || SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        snprintf(err, errlen, "profiler.tls.client_ca = \"%s\": no usable PEM CA certificate "
                 "in it (%s); expected the CA that signs the clients' certificates, as "
                 "\"-----BEGIN CERTIFICATE-----\"", client_ca, ssl_why(why, sizeof why));
        return -1;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return 0;
}

prof_tls_ctx *prof_tls_ctx_new(const char *cert, const char *key, const char *client_ca,
                               char *err, size_t errlen, char *warn, size_t warnlen)
{
    if (warn != NULL && warnlen > 0)
        warn[0] = '\0';
    if (!cert[0] || !key[0]) {
        snprintf(err, errlen, "profiler.tls.%s is set without profiler.tls.%s: TLS needs "
                 "both (PEM files)", cert[0] ? "cert" : "key", cert[0] ? "key" : "cert");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context: out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* A FIN without close_notify reads as an end of stream, as on a plain
     * port (a half-close); no renegotiation (a write never waits for a
     * read); no session tickets: every client is a new one here. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* client_out retries a write with the buffer memmoved and maybe longer */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (load(ctx, cert, key, client_ca ? client_ca : "", err, errlen) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    struct stat st;
    if (warn != NULL && stat(key, &st) == 0 && (st.st_mode & S_IRWXO))
        snprintf(warn, warnlen, "profiler.tls.key = \"%s\" is readable by others (mode %04o): "
                 "anyone who reads it can impersonate this server; chmod o-rwx it (or 600)",
                 key, (unsigned)(st.st_mode & 07777));
    return ctx;
}

void prof_tls_ctx_free(prof_tls_ctx *ctx)
{
    SSL_CTX_free(ctx);
}
