// TLS context construction shared by the server and the client. Internal to common/http: it
// includes Asio SSL, so only the .cpp files of the HTTP layer include it.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <ctime>
#include <memory>
#include <string>

#include "common/result.h"

namespace seedhop::http::internal {

// A server context: TLS 1.2+, AEAD ECDHE suites only, ALPN "http/1.1", no renegotiation.
// Checks that the key matches the certificate. `client_ca_pem` non-empty: mTLS required.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerContext(
    const std::string& cert_pem, const std::string& key_pem, const std::string& client_ca_pem);

// A client context: TLS 1.2+, peer verification against `ca_pem` (system roots when empty)
// unless `insecure`, optional client certificate.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientContext(const std::string& ca_pem,
                                                                     const std::string& cert_pem,
                                                                     const std::string& key_pem,
                                                                     bool insecure);

// Returns the notAfter time of the first certificate in `cert_pem`, or an error.
Result<std::time_t> CertificateNotAfter(const std::string& cert_pem);

}  // namespace seedhop::http::internal
