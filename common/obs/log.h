// Structured JSON logs: one object per line with ts, level, logger, msg and key/values.
#pragma once

#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace seedhop::obs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn" or "error". Returns false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);

// A key/value pair of a log line. Values are logged as JSON strings.
using Field = std::pair<std::string_view, std::string>;

// Thread-safe. Never pass secret values as fields: lines are written as they are given.
class Logger {
 public:
  // Writes to `out` (stderr by default) lines whose level is at least `level`.
  explicit Logger(std::string name, LogLevel level = LogLevel::kInfo, FILE* out = stderr);

  // Returns a logger that shares this one's output and level with name "<name>.<child>".
  Logger Child(std::string_view child) const;

  void Log(LogLevel level, std::string_view msg, std::initializer_list<Field> fields = {}) const;
  void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(LogLevel::kDebug, msg, fields);
  }
  void Info(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(LogLevel::kInfo, msg, fields);
  }
  void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(LogLevel::kWarn, msg, fields);
  }
  void Error(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(LogLevel::kError, msg, fields);
  }
  bool Enabled(LogLevel level) const { return level >= level_; }

 private:
  std::string name_;
  LogLevel level_;
  FILE* out_;
};

}  // namespace seedhop::obs
