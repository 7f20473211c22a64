// Rendering an audit report: a table for a terminal, JSON and YAML for machines, Markdown for a
// change ticket. All renderers are pure functions of the report and render the same facts.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

#include "auditor/audit.h"
#include "common/result.h"

namespace seedhop::auditor {

enum class Format { kTable, kJson, kYaml, kMarkdown };

// Parses an -o value: "table", "json", "yaml" or "markdown" (also "md"). Errors list the choices.
Result<Format> ParseFormat(std::string_view name);

// The report as JSON: summary, exit code, per-namespace verdict, blockers, locks, findings.
// Field names are camelCase, as in Kubernetes.
nlohmann::json ReportToJson(const AuditReport& report);

// Writes `report` to `out` in `format`, one namespace at a time. The table and Markdown list
// warnings and errors only; JSON and YAML carry every finding. JSON is ReportToJson(report)
// dumped with an indent of 2, YAML the same document.
void WriteReport(const AuditReport& report, Format format, std::ostream& out);

// Returns what WriteReport writes.
std::string RenderReport(const AuditReport& report, Format format);

}  // namespace seedhop::auditor
