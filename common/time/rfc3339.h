// Time as the Kubernetes API writes it: RFC 3339 (metav1.Time, metav1.MicroTime).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace seedhop {

// A point in time with microsecond precision (metav1.MicroTime's resolution).
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

// Parses "2026-08-21T10:15:02.118347Z", "2021-03-02T09:41:07Z" or a "+hh:mm" offset form;
// nullopt when `text` is anything else.
std::optional<Timestamp> ParseTimestamp(std::string_view text);

// Formats as RFC 3339 UTC with whole seconds ("2026-08-21T10:15:02Z").
std::string FormatTimestamp(Timestamp t);

// The current time, as FormatTimestamp writes it.
std::string NowRfc3339();

}  // namespace seedhop
