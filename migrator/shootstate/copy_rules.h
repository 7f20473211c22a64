// Copy rules: which objects of a shoot's seed namespace go into the ShootState. A rule names a
// kind, an equality-based label selector and an RE2 name pattern; extension kinds are copied by
// Gardener's own criterion (status.state set or status.resources non-empty).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace seedhop::migrator::shootstate {

// One requirement of a label selector: "k=v" / "k==v", "k!=v", "k" (exists), "!k" (absent).
struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kExists, kNotExists };
  std::string key;
  Op op = Op::kExists;
  std::string value;
};

// An equality-based label selector as kubectl writes it (comma-separated requirements, all must
// hold). Set-based forms ("k in (a,b)") are rejected by ParseLabelSelector.
struct LabelSelector {
  std::string text;  // as written; sent to the API server as labelSelector
  std::vector<LabelRequirement> requirements;

  // True when every requirement holds for `labels` (a JSON object of strings, or null).
  bool Matches(const nlohmann::json& labels) const;
};

// Parses `text`; "" selects everything. Errors say which requirement is malformed.
Result<LabelSelector> ParseLabelSelector(const std::string& text);

// Selects objects of one kind in the shoot namespace.
struct CopyRule {
  std::string name;         // for reports and errors
  std::string api_version;  // "v1", "extensions.gardener.cloud/v1alpha1"
  std::string kind;         // "Secret"
  std::string resource;     // REST plural; defaults to PluralOf(kind)
  LabelSelector selector;
  std::string name_pattern;            // RE2, matched against the whole name; "" matches all
  std::shared_ptr<const re2::RE2> re;  // compiled name_pattern; null when empty

  // True when `object` has this rule's apiVersion/kind, matches the selector and the pattern.
  bool Matches(const nlohmann::json& object) const;
};

struct CopyRules {
  std::vector<CopyRule> rules;
  // Kinds of extensions.gardener.cloud/v1alpha1 whose status.state/status.resources are copied.
  std::vector<std::string> extension_kinds;
};

// The group/version of Gardener's extension resources.
inline constexpr char kExtensionsApiVersion[] = "extensions.gardener.cloud/v1alpha1";

// Lower-case REST plural of a kind as Kubernetes code generators write it ("BackupEntry" ->
// "backupentries", "DNSRecord" -> "dnsrecords"). Rules may override it with `resource`.
std::string PluralOf(const std::string& kind);

// The built-in rules: what gardenlet persists (Secrets labelled persist=true, and the namespaced
// extension kinds). See docs/migrator.md, "State copy".
CopyRules DefaultCopyRules();

// Parses a rules document: {rules: [{name, apiVersion, kind, resource?, labelSelector?,
// namePattern?}], extensionKinds?: [..]}. A missing extensionKinds keeps the defaults. Errors name
// the field, e.g. `rules[1].namePattern: invalid RE2: missing )`.
Result<CopyRules> ParseCopyRules(const nlohmann::json& document);

// Reads and parses the YAML rules file at `path`; errors name the file.
Result<CopyRules> ReadCopyRules(const std::string& path);

}  // namespace seedhop::migrator::shootstate
