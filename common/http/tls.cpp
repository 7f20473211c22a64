#include "common/http/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace seedhop::http::internal {

namespace ssl = boost::asio::ssl;

namespace {

// Mozilla's "intermediate" TLS 1.2 list: ECDHE key exchange with AEAD ciphers only. TLS 1.3
// suites are OpenSSL's defaults, all of which are modern.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  if (code == 0)
    return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  ERR_clear_error();
  return buffer;
}

// Offers only http/1.1: kube-apiserver talks HTTP/1.1 to webhooks, and refusing h2 keeps us
// out of HTTP/2 rapid-reset territory (CVE-2023-44487).
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

void Harden(ssl::context& context) {
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::no_compression);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(context.native_handle(), SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_cipher_list(context.native_handle(), kTls12Ciphers);
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerContext(const std::string& cert_pem,
                                                        const std::string& key_pem,
                                                        const std::string& client_ca_pem) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  Harden(*context);
  boost::system::error_code ec;
  context->use_certificate_chain(boost::asio::buffer(cert_pem), ec);
  if (ec)
    return Error(ErrorCode::kInvalid, "certificate: " + ec.message());
  context->use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec)
    return Error(ErrorCode::kInvalid, "private key: " + ec.message());
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return Error(ErrorCode::kInvalid, "private key does not match certificate: " + OpenSslError());
  }
  SSL_CTX_set_alpn_select_cb(context->native_handle(), SelectAlpn, nullptr);
  if (!client_ca_pem.empty()) {
    context->add_certificate_authority(boost::asio::buffer(client_ca_pem), ec);
    if (ec)
      return Error(ErrorCode::kInvalid, "client CA bundle: " + ec.message());
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return context;
}

Result<std::shared_ptr<ssl::context>> MakeClientContext(const std::string& ca_pem,
                                                        const std::string& cert_pem,
                                                        const std::string& key_pem, bool insecure) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  Harden(*context);
  boost::system::error_code ec;
  if (insecure) {
    context->set_verify_mode(ssl::verify_none);
  } else {
    context->set_verify_mode(ssl::verify_peer);
    if (ca_pem.empty()) {
      context->set_default_verify_paths(ec);
    } else {
      context->add_certificate_authority(boost::asio::buffer(ca_pem), ec);
    }
    if (ec)
      return Error(ErrorCode::kInvalid, "CA bundle: " + ec.message());
  }
  if (!cert_pem.empty() || !key_pem.empty()) {
    context->use_certificate_chain(boost::asio::buffer(cert_pem), ec);
    if (ec)
      return Error(ErrorCode::kInvalid, "client certificate: " + ec.message());
    context->use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
    if (ec)
      return Error(ErrorCode::kInvalid, "client key: " + ec.message());
  }
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(context->native_handle(), kHttp11, sizeof kHttp11);
  return context;
}

Result<std::time_t> CertificateNotAfter(const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr)
    return Error(ErrorCode::kInvalid, "certificate: not PEM");
  std::tm tm{};
  int ok = ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm);
  X509_free(cert);
  if (ok != 1)
    return Error(ErrorCode::kInvalid, "certificate: unreadable notAfter");
  return timegm(&tm);
}

}  // namespace seedhop::http::internal
