#include "test/support/certs.h"

#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace seedhop::testing {

namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr NewKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr)
    throw std::runtime_error("EVP_EC_gen failed");
  return KeyPtr(key, EVP_PKEY_free);
}

std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

KeyPtr ParseKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr)
    throw std::runtime_error("cannot parse key");
  return KeyPtr(key, EVP_PKEY_free);
}

CertPtr ParseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr)
    throw std::runtime_error("cannot parse certificate");
  return CertPtr(cert, X509_free);
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr)
    throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

CertPtr NewCert(const std::string& common_name, EVP_PKEY* key, long not_before, long valid) {
  CertPtr cert(X509_new(), X509_free);
  static long serial = 1;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++ + static_cast<long>(time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_before + valid);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  return cert;
}

bool IsIp(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

}  // namespace

CertPair MakeCa(const std::string& common_name) {
  KeyPtr key = NewKey();
  CertPtr cert = NewCert(common_name, key.get(), -60, 86400);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  X509_sign(cert.get(), key.get(), EVP_sha256());
  return {CertPem(cert.get()), KeyPem(key.get())};
}

CertPair MakeLeaf(const CertPair& ca, const std::string& common_name,
                  const std::vector<std::string>& sans, long valid_seconds,
                  long not_before_seconds) {
  KeyPtr ca_key = ParseKey(ca.key_pem);
  CertPtr ca_cert = ParseCert(ca.cert_pem);
  KeyPtr key = NewKey();
  CertPtr cert = NewCert(common_name, key.get(), not_before_seconds, valid_seconds);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  std::string san_list;
  for (const auto& san : sans) {
    if (!san_list.empty())
      san_list += ",";
    san_list += (IsIp(san) ? "IP:" : "DNS:") + san;
  }
  if (!san_list.empty())
    AddExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, san_list);
  AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(cert.get(), ca_cert.get(), NID_key_usage,
               "critical,digitalSignature,keyEncipherment");
  AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  AddExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid");
  X509_sign(cert.get(), ca_key.get(), EVP_sha256());
  return {CertPem(cert.get()), KeyPem(key.get())};
}

Status WriteFile(const std::string& path, const std::string& content) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out)
      return Error(ErrorCode::kInternal, "cannot write " + temporary);
    out << content;
    if (!out.flush())
      return Error(ErrorCode::kInternal, "cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return Error(ErrorCode::kInternal, "cannot rename " + temporary + " to " + path);
  }
  return OkStatus();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error(ErrorCode::kNotFound, "cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Result<std::string> MakeTempDir(const std::string& prefix) {
  std::error_code error;
  std::string pattern =
      (std::filesystem::temp_directory_path(error) / (prefix + "XXXXXX")).string();
  if (error)
    return Error(ErrorCode::kInternal, "temporary directory: " + error.message());
  if (::mkdtemp(pattern.data()) == nullptr)
    return Error(ErrorCode::kInternal, "mkdtemp " + pattern + ": " + std::strerror(errno));
  return pattern;
}

}  // namespace seedhop::testing
