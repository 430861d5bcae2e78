/*
 * tlslib.h — GnuTLS, loaded on first use rather than at exec.
 *
 * Most sessions never use TLS, DKIM or a digest, yet linking GnuTLS cost
 * every process the loading and relocation of ten shared objects and
 * GnuTLS's own initialisation before main (most of a one-message SMTP
 * session's CPU). The programs are therefore not linked with GnuTLS; this
 * module dlopen()s it the first time tls.c, dkim.c or digest.c needs it
 * and owns the table of the functions they call.
 *
 * Only tls.c, dkim.c and digest.c include this header, after the GnuTLS
 * headers: every GnuTLS function they name is redirected to the table.
 * Each of their entry points calls tlslib_load() before any of them.
 */
#ifndef YUBIN_TLSLIB_H
#define YUBIN_TLSLIB_H

#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* Every GnuTLS symbol yubin uses (gnutls_free is a variable holding a
 * function pointer; the table keeps its address like the others). */
#define TLSLIB_SYMBOLS(X) \
	X(gnutls_alert_send) X(gnutls_alert_send_appropriate) X(gnutls_bye) \
	X(gnutls_certificate_allocate_credentials) X(gnutls_certificate_free_credentials) \
	X(gnutls_certificate_server_set_request) X(gnutls_certificate_set_known_dh_params) \
	X(gnutls_certificate_set_x509_key) X(gnutls_certificate_set_x509_system_trust) \
	X(gnutls_certificate_set_x509_trust_file) X(gnutls_certificate_type_get) \
	X(gnutls_certificate_verification_status_print) X(gnutls_cipher_get) \
	X(gnutls_cipher_get_key_size) X(gnutls_ciphersuite_get) X(gnutls_credentials_set) \
	X(gnutls_deinit) X(gnutls_error_is_fatal) X(gnutls_free) X(gnutls_handshake) \
	X(gnutls_handshake_set_timeout) X(gnutls_hash) X(gnutls_hash_deinit) \
	X(gnutls_hash_init) X(gnutls_init) X(gnutls_priority_set_direct) \
	X(gnutls_privkey_deinit) X(gnutls_privkey_get_pk_algorithm) \
	X(gnutls_privkey_import_x509_raw) X(gnutls_privkey_init) X(gnutls_privkey_sign_data2) \
	X(gnutls_protocol_get_name) X(gnutls_protocol_get_version) \
	X(gnutls_record_check_pending) X(gnutls_record_recv) X(gnutls_record_send) \
	X(gnutls_server_name_set) X(gnutls_session_get_verify_cert_status) \
	X(gnutls_session_set_verify_cert) X(gnutls_set_default_priority) X(gnutls_strerror) \
	X(gnutls_transport_set_errno) X(gnutls_transport_set_ptr) \
	X(gnutls_transport_set_pull_function) X(gnutls_transport_set_pull_timeout_function) \
	X(gnutls_transport_set_push_function) X(gnutls_x509_crt_deinit) \
	X(gnutls_x509_crt_list_import2) X(gnutls_x509_privkey_deinit) \
	X(gnutls_x509_privkey_import2) X(gnutls_x509_privkey_init)

#define TLSLIB_FIELD(name) __typeof__(name) *name;
struct tlslib_symbols {
	TLSLIB_SYMBOLS(TLSLIB_FIELD)
};
#undef TLSLIB_FIELD

/* Filled by tlslib_load; read only through the names below. */
extern struct tlslib_symbols tlslib_sym;

/* Loads GnuTLS and every symbol above, once per process (later calls only
 * report the first outcome). Returns 0, or -1 with a reason in err (the
 * library or a symbol is missing: TLS, DKIM and digests then fail the way
 * they fail on any other set-up error). */
int tlslib_load(char *err, size_t errsize);

/* 1 once GnuTLS is mapped into this process (for tests and logs). */
int tlslib_loaded(void);

#ifndef TLSLIB_NO_REDIRECT
#define gnutls_alert_send (*tlslib_sym.gnutls_alert_send)
#define gnutls_alert_send_appropriate (*tlslib_sym.gnutls_alert_send_appropriate)
#define gnutls_bye (*tlslib_sym.gnutls_bye)
#define gnutls_certificate_allocate_credentials (*tlslib_sym.gnutls_certificate_allocate_credentials)
#define gnutls_certificate_free_credentials (*tlslib_sym.gnutls_certificate_free_credentials)
#define gnutls_certificate_server_set_request (*tlslib_sym.gnutls_certificate_server_set_request)
#define gnutls_certificate_set_known_dh_params (*tlslib_sym.gnutls_certificate_set_known_dh_params)
#define gnutls_certificate_set_x509_key (*tlslib_sym.gnutls_certificate_set_x509_key)
#define gnutls_certificate_set_x509_system_trust (*tlslib_sym.gnutls_certificate_set_x509_system_trust)
#define gnutls_certificate_set_x509_trust_file (*tlslib_sym.gnutls_certificate_set_x509_trust_file)
#define gnutls_certificate_type_get (*tlslib_sym.gnutls_certificate_type_get)
#define gnutls_certificate_verification_status_print (*tlslib_sym.gnutls_certificate_verification_status_print)
#define gnutls_cipher_get (*tlslib_sym.gnutls_cipher_get)
#define gnutls_cipher_get_key_size (*tlslib_sym.gnutls_cipher_get_key_size)
#define gnutls_ciphersuite_get (*tlslib_sym.gnutls_ciphersuite_get)
#define gnutls_credentials_set (*tlslib_sym.gnutls_credentials_set)
#define gnutls_deinit (*tlslib_sym.gnutls_deinit)
#define gnutls_error_is_fatal (*tlslib_sym.gnutls_error_is_fatal)
#define gnutls_free (*tlslib_sym.gnutls_free)
#define gnutls_handshake (*tlslib_sym.gnutls_handshake)
#define gnutls_handshake_set_timeout (*tlslib_sym.gnutls_handshake_set_timeout)
#define gnutls_hash (*tlslib_sym.gnutls_hash)
#define gnutls_hash_deinit (*tlslib_sym.gnutls_hash_deinit)
#define gnutls_hash_init (*tlslib_sym.gnutls_hash_init)
#define gnutls_init (*tlslib_sym.gnutls_init)
#define gnutls_priority_set_direct (*tlslib_sym.gnutls_priority_set_direct)
#define gnutls_privkey_deinit (*tlslib_sym.gnutls_privkey_deinit)
#define gnutls_privkey_get_pk_algorithm (*tlslib_sym.gnutls_privkey_get_pk_algorithm)
#define gnutls_privkey_import_x509_raw (*tlslib_sym.gnutls_privkey_import_x509_raw)
#define gnutls_privkey_init (*tlslib_sym.gnutls_privkey_init)
#define gnutls_privkey_sign_data2 (*tlslib_sym.gnutls_privkey_sign_data2)
#define gnutls_protocol_get_name (*tlslib_sym.gnutls_protocol_get_name)
#define gnutls_protocol_get_version (*tlslib_sym.gnutls_protocol_get_version)
#define gnutls_record_check_pending (*tlslib_sym.gnutls_record_check_pending)
#define gnutls_record_recv (*tlslib_sym.gnutls_record_recv)
#define gnutls_record_send (*tlslib_sym.gnutls_record_send)
#define gnutls_server_name_set (*tlslib_sym.gnutls_server_name_set)
#define gnutls_session_get_verify_cert_status (*tlslib_sym.gnutls_session_get_verify_cert_status)
#define gnutls_session_set_verify_cert (*tlslib_sym.gnutls_session_set_verify_cert)
#define gnutls_set_default_priority (*tlslib_sym.gnutls_set_default_priority)
#define gnutls_strerror (*tlslib_sym.gnutls_strerror)
#define gnutls_transport_set_errno (*tlslib_sym.gnutls_transport_set_errno)
#define gnutls_transport_set_ptr (*tlslib_sym.gnutls_transport_set_ptr)
#define gnutls_transport_set_pull_function (*tlslib_sym.gnutls_transport_set_pull_function)
#define gnutls_transport_set_pull_timeout_function (*tlslib_sym.gnutls_transport_set_pull_timeout_function)
#define gnutls_transport_set_push_function (*tlslib_sym.gnutls_transport_set_push_function)
#define gnutls_x509_crt_deinit (*tlslib_sym.gnutls_x509_crt_deinit)
#define gnutls_x509_crt_list_import2 (*tlslib_sym.gnutls_x509_crt_list_import2)
#define gnutls_x509_privkey_deinit (*tlslib_sym.gnutls_x509_privkey_deinit)
#define gnutls_x509_privkey_import2 (*tlslib_sym.gnutls_x509_privkey_import2)
#define gnutls_x509_privkey_init (*tlslib_sym.gnutls_x509_privkey_init)
#endif

#endif
