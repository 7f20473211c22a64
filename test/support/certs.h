// Test certificates made on the fly with OpenSSL: a CA and leaf certificates signed by it.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace seedhop::testing {

struct CertPair {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed CA (EC P-256) valid for a day.
CertPair MakeCa(const std::string& common_name);

// A leaf certificate signed by `ca` for `sans` (IP literals become IP SANs, the rest DNS SANs),
// valid from `not_before_seconds` (relative to now; negative = in the past) for
// `valid_seconds`. Usable for server and client authentication.
CertPair MakeLeaf(const CertPair& ca, const std::string& common_name,
                  const std::vector<std::string>& sans, long valid_seconds = 86400,
                  long not_before_seconds = -60);

// Writes `content` to `path` atomically (temporary file + rename).
Status WriteFile(const std::string& path, const std::string& content);

// Reads the whole file at `path`.
Result<std::string> ReadFile(const std::string& path);

// Creates a new empty directory in the system's temporary directory, named `prefix` plus six
// random characters (mkdtemp), and returns its path: parallel tests never share a file through it.
Result<std::string> MakeTempDir(const std::string& prefix);

}  // namespace seedhop::testing
