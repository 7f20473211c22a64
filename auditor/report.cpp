#include "auditor/report.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>

namespace seedhop::auditor {
namespace {

using nlohmann::json;

json FindingsJson(const std::vector<Finding>& findings) {
  json out = json::array();
  for (const auto& f : findings) {
    out.push_back(
        {{"severity", SeverityName(f.severity)}, {"subject", f.subject}, {"message", f.message}});
  }
  return out;
}

json ObservedJson(const ObservedLock& lock) {
  json j = {{"kind", LockKindName(lock.kind)},
            {"namespace", lock.namespace_name},
            {"name", lock.name},
            {"component", lock.component},
            {"location", LocationName(Location::kSeed)},
            {"holderIdentity", lock.holder.raw},
            {"holderPod", lock.holder.pod},
            {"holderPresent", lock.holder_present},
            {"stale", lock.stale}};
  if (lock.holder_workload) {
    j["holderWorkload"] = WorkloadText(*lock.holder_workload);
  }
  if (lock.record.renew_time) {
    j["renewTime"] = FormatTimestamp(*lock.record.renew_time);
  }
  if (lock.record.lease_duration_seconds) {
    j["leaseDurationSeconds"] = *lock.record.lease_duration_seconds;
  }
  if (lock.record.transitions) {
    j["transitions"] = *lock.record.transitions;
  }
  return j;
}

json InferredJson(const InferredLock& lock) {
  return {{"workload", WorkloadText(lock.workload)},
          {"container", lock.container},
          {"component", lock.component},
          {"location", LocationName(lock.location)},
          {"lockNamespace", lock.lock_namespace},
          {"lockName", lock.lock_name},
          {"evidence", lock.evidence},
          {"replicas", lock.replicas}};
}

void EmitYaml(YAML::Emitter& out, const json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [key, value] : j.items()) {
      out << YAML::Key << key << YAML::Value;
      EmitYaml(out, value);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& value : j) {
      EmitYaml(out, value);
    }
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    // Quote strings a YAML 1.1 reader would take for another type ("true", "15", "no", "~");
    // the emitter itself quotes strings that are not valid plain scalars.
    const std::string s = j.get<std::string>();
    static const char* const kTyped[] = {
        "y",  "Y",   "yes", "Yes", "YES", "n",    "N",    "no",   "No",   "NO",    "on",   "On",
        "ON", "off", "Off", "OFF", "~",   "Null", "NULL", "True", "TRUE", "False", "FALSE"};
    bool quote = s.empty() || json::accept(s);
    for (const char* t : kTyped) {
      quote = quote || s == t;
    }
    out << (quote ? YAML::DoubleQuoted : YAML::Auto) << s;
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();
  }
}

// A plain text table: columns padded to their widest cell, two spaces apart.
std::string TextTable(const std::vector<std::vector<std::string>>& rows, std::string_view indent) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(widths[i] - row[i].size() + 2, ' ');
      }
    }
    out += line + "\n";
  }
  return out;
}

std::string JoinStrings(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : std::string(sep)) + i;
  }
  return out;
}

std::string LockName(std::string_view kind, const std::string& ns, const std::string& name) {
  return std::string(kind) + " " + ns + "/" + (name.empty() ? "?" : name);
}

// One row per lock that matters (observed, or inferred with a location other than none).
std::vector<std::vector<std::string>> LockRows(const NamespaceAudit& ns) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : ns.observed) {
    std::string holder = l.holder.raw.empty()   ? "-"
                         : l.holder.pod.empty() ? l.holder.raw
                                                : l.holder.pod;
    if (!l.holder.pod.empty() && !l.holder_present) {
      holder += " (gone)";
    }
    if (l.stale) {
      holder += " stale";
    }
    rows.push_back({l.component, l.holder_workload ? WorkloadText(*l.holder_workload) : "-",
                    LockName(LockKindName(l.kind), l.namespace_name, l.name),
                    LocationName(Location::kSeed), "observed", holder});
  }
  for (const auto& l : ns.inferred) {
    if (l.location == Location::kNone) {
      continue;
    }
    rows.push_back({l.component.empty() ? "unknown" : l.component,
                    WorkloadText(l.workload) + "/" + l.container,
                    LockName("leases", l.lock_namespace, l.lock_name), LocationName(l.location),
                    "inferred", l.evidence});
  }
  return rows;
}

bool Shown(const Finding& f) {
  return f.severity != Severity::kInfo;
}

void WriteTable(const AuditReport& report, std::ostream& out) {
  out << "seed " << (report.seed.empty() ? "(current context)" : report.seed) << ", audited "
      << FormatTimestamp(report.at) << "\n\n";
  std::vector<std::vector<std::string>> summary = {{"NAMESPACE", "VERDICT", "BLOCKERS"}};
  for (const auto& ns : report.namespaces) {
    std::vector<std::string> names;
    for (const auto& b : ns.blockers) {
      names.push_back(b.component);
    }
    summary.push_back(
        {ns.name, VerdictName(ns.verdict), names.empty() ? "-" : JoinStrings(names, ", ")});
  }
  out << TextTable(summary, "");
  for (const auto& f : report.findings) {
    out << "[" << SeverityName(f.severity) << "] " << f.subject << ": " << f.message << "\n";
  }
  for (const auto& ns : report.namespaces) {
    if (ns.verdict == Verdict::kGone) {
      continue;
    }
    out << "\n" << ns.name << ": " << VerdictName(ns.verdict) << "\n";
    auto rows = LockRows(ns);
    if (!rows.empty()) {
      rows.insert(rows.begin(), {"COMPONENT", "WORKLOAD", "LOCK", "WHERE", "SOURCE", "DETAIL"});
      out << TextTable(rows, "  ");
    }
    for (const auto& b : ns.blockers) {
      out << "  BLOCKER " << b.component << " would run twice ("
          << (b.workloads.empty() ? "no workload found" : JoinStrings(b.workloads, ", ")) << ")\n";
      for (const auto& r : b.reasons) {
        out << "    - " << r << "\n";
      }
      out << "    advice: " << b.advice << "\n";
    }
    for (const auto& f : ns.findings) {
      if (Shown(f)) {
        out << "  [" << SeverityName(f.severity) << "] " << f.subject << ": " << f.message << "\n";
      }
    }
  }
}

std::string Cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string MarkdownTable(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out += "|";
    for (const auto& c : rows[r]) {
      out += " " + Cell(c) + " |";
    }
    out += "\n";
    if (r == 0) {
      out += "|";
      for (std::size_t i = 0; i < rows[r].size(); ++i) {
        out += " --- |";
      }
      out += "\n";
    }
  }
  return out;
}

void WriteMarkdown(const AuditReport& report, std::ostream& out) {
  out << "# Leader-election audit of seed "
      << (report.seed.empty() ? "(current context)" : "`" + report.seed + "`") << "\n\n"
      << "Audited " << FormatTimestamp(report.at) << ". A shoot is safe to live-migrate when no "
      << "controller keeps its leader-election lock in the seed.\n\n";
  std::vector<std::vector<std::string>> summary = {{"namespace", "verdict", "blockers"}};
  for (const auto& ns : report.namespaces) {
    std::vector<std::string> names;
    for (const auto& b : ns.blockers) {
      names.push_back(b.component);
    }
    summary.push_back({"`" + ns.name + "`", VerdictName(ns.verdict),
                       names.empty() ? "-" : JoinStrings(names, ", ")});
  }
  out << MarkdownTable(summary);
  for (const auto& f : report.findings) {
    out << "\n- **" << SeverityName(f.severity) << "** " << Cell(f.subject) << ": "
        << Cell(f.message) << "\n";
  }
  for (const auto& ns : report.namespaces) {
    if (ns.verdict == Verdict::kGone) {
      continue;
    }
    out << "\n## `" << ns.name << "`: " << VerdictName(ns.verdict) << "\n";
    if (!ns.blockers.empty()) {
      out << "\n### Controllers that would run twice\n\n";
      std::vector<std::vector<std::string>> rows = {{"component", "workloads", "why", "advice"}};
      for (const auto& b : ns.blockers) {
        rows.push_back(
            {b.component, JoinStrings(b.workloads, ", "), JoinStrings(b.reasons, "; "), b.advice});
      }
      out << MarkdownTable(rows);
    }
    auto rows = LockRows(ns);
    if (!rows.empty()) {
      out << "\n### Locks\n\n";
      rows.insert(rows.begin(), {"component", "workload", "lock", "where", "source", "detail"});
      out << MarkdownTable(rows);
    }
    bool heading = false;
    for (const auto& f : ns.findings) {
      if (!Shown(f)) {
        continue;
      }
      if (!heading) {
        out << "\n### Findings\n\n";
        heading = true;
      }
      out << "- **" << SeverityName(f.severity) << "** " << Cell(f.subject) << ": "
          << Cell(f.message) << "\n";
    }
  }
}

json NamespaceToJson(const NamespaceAudit& ns) {
  json blockers = json::array();
  for (const auto& b : ns.blockers) {
    blockers.push_back({{"component", b.component},
                        {"workloads", b.workloads},
                        {"locks", b.locks},
                        {"reasons", b.reasons},
                        {"advice", b.advice}});
  }
  json observed = json::array();
  for (const auto& l : ns.observed) {
    observed.push_back(ObservedJson(l));
  }
  json inferred = json::array();
  for (const auto& l : ns.inferred) {
    inferred.push_back(InferredJson(l));
  }
  json excluded = json::array();
  for (const auto& e : ns.excluded) {
    excluded.push_back({{"name", e.name}, {"reason", e.reason}});
  }
  return {{"name", ns.name},
          {"verdict", VerdictName(ns.verdict)},
          {"blockers", blockers},
          {"observedLocks", observed},
          {"inferredLocks", inferred},
          {"notLocks", excluded},
          {"findings", FindingsJson(ns.findings)}};
}

// The JSON report with an empty "namespaces" array: the renderers fill it in one namespace at a
// time, so that the whole report never exists as one JSON tree (with its dump, 165 MiB at the
// peak for the 2,000 bench namespaces, more than three times the report itself).
json ReportWithoutNamespaces(const AuditReport& report) {
  json summary = {{"namespaces", report.namespaces.size()}};
  for (Verdict v : {Verdict::kSafe, Verdict::kBlocked, Verdict::kIncomplete, Verdict::kGone}) {
    summary[VerdictName(v)] =
        std::count_if(report.namespaces.begin(), report.namespaces.end(),
                      [v](const NamespaceAudit& n) { return n.verdict == v; });
  }
  return {{"seed", report.seed},
          {"auditedAt", FormatTimestamp(report.at)},
          {"exitCode", ExitCode(report)},
          {"summary", summary},
          {"findings", FindingsJson(report.findings)},
          {"namespaces", json::array()}};
}

// Writes `j` as j.dump(2) would write it at nesting `depth` of an enclosing document: every line
// after the first is indented by 2 * depth more spaces. Dumped strings escape their newlines, so
// each '\n' in the text ends a line.
void WriteNestedJson(std::ostream& out, const json& j, int depth) {
  const std::string text = j.dump(2);
  const std::string indent(2 * static_cast<std::size_t>(depth), ' ');
  std::size_t start = 0;
  for (std::size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.write(text.data() + start, static_cast<std::streamsize>(nl + 1 - start));
    out << indent;
    start = nl + 1;
  }
  out.write(text.data() + start, static_cast<std::streamsize>(text.size() - start));
}

// Writes ReportToJson(report).dump(2) and a newline, byte for byte.
void WriteJson(const AuditReport& report, std::ostream& out) {
  const json fields = ReportWithoutNamespaces(report);
  const char* field_separator = "{\n";
  for (const auto& [key, value] : fields.items()) {
    out << field_separator << "  " << json(key).dump() << ": ";
    field_separator = ",\n";
    if (key != "namespaces" || report.namespaces.empty()) {
      WriteNestedJson(out, value, 1);
      continue;
    }
    const char* item_separator = "[\n";
    for (const auto& ns : report.namespaces) {
      out << item_separator << "    ";
      WriteNestedJson(out, NamespaceToJson(ns), 2);
      item_separator = ",\n";
    }
    out << "\n  ]";
  }
  out << "\n}\n";
}

// Writes ReportToJson(report) as YAML and a newline.
void WriteYaml(const AuditReport& report, std::ostream& stream) {
  const json fields = ReportWithoutNamespaces(report);
  YAML::Emitter out(stream);
  out << YAML::BeginMap;
  for (const auto& [key, value] : fields.items()) {
    out << YAML::Key << key << YAML::Value;
    if (key != "namespaces" || report.namespaces.empty()) {
      EmitYaml(out, value);
      continue;
    }
    out << YAML::BeginSeq;
    for (const auto& ns : report.namespaces) {
      EmitYaml(out, NamespaceToJson(ns));
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  stream << "\n";
}

}  // namespace

Result<Format> ParseFormat(std::string_view name) {
  if (name == "table") {
    return Format::kTable;
  }
  if (name == "json") {
    return Format::kJson;
  }
  if (name == "yaml") {
    return Format::kYaml;
  }
  if (name == "markdown" || name == "md") {
    return Format::kMarkdown;
  }
  return Error(ErrorCode::kInvalid, "output format \"" + std::string(name) +
                                        "\": must be one of table, json, yaml, markdown");
}

json ReportToJson(const AuditReport& report) {
  json j = ReportWithoutNamespaces(report);
  for (const auto& ns : report.namespaces) {
    j["namespaces"].push_back(NamespaceToJson(ns));
  }
  return j;
}

void WriteReport(const AuditReport& report, Format format, std::ostream& out) {
  switch (format) {
    case Format::kJson:
      return WriteJson(report, out);
    case Format::kYaml:
      return WriteYaml(report, out);
    case Format::kMarkdown:
      return WriteMarkdown(report, out);
    case Format::kTable:
      return WriteTable(report, out);
  }
  WriteTable(report, out);
}

std::string RenderReport(const AuditReport& report, Format format) {
  std::ostringstream out;
  WriteReport(report, format, out);
  return out.str();
}

}  // namespace seedhop::auditor
