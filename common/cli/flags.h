// A small command-line flag parser shared by the binaries: "--name=value", "--name value",
// boolean "--name" / "--name=false", "-n value" for one-letter names (kubectl's "-n", "-o"), and
// positional arguments. Parsing is a pure function of argv.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace seedhop::cli {

// Declares flags, then parses. Values are read back typed; a bad value is an error naming the flag.
class FlagSet {
 public:
  // `name` without dashes; `help` for Usage(). A boolean flag takes no separate value.
  void String(std::string name, std::string default_value, std::string help);
  void Bool(std::string name, bool default_value, std::string help);

  // Parses `args` (argv without the program name). Unknown flags and missing values are errors.
  Status Parse(const std::vector<std::string>& args);

  std::string GetString(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  // The flag as an integer in [min, max], or an error naming the flag.
  Result<int64_t> GetInt(std::string_view name, int64_t min, int64_t max) const;
  // The flag as a duration such as "500ms", "30s", "10m", "1h", or an error naming the flag.
  Result<std::chrono::milliseconds> GetDuration(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  // One line per flag: "  --name (default "x")\n      help".
  std::string Usage() const;

 private:
  struct Flag {
    std::string value;
    std::string default_value;
    std::string help;
    bool is_bool = false;
  };
  std::map<std::string, Flag, std::less<>> flags_;
  std::vector<std::string> positional_;
};

// Parses "500ms", "30s", "10m", "1h" into milliseconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace seedhop::cli
