#include "webhook/admission_review.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/encoding/base64.h"
#include "test/webhook/fixtures.h"

namespace seedhop::webhook {
namespace {

using nlohmann::json;
using testing::Base64DecodeOpenSsl;
using testing::ReadShared;
using testing::SharedJson;
using testing::VerifyAdmissionResponse;

constexpr char kAdmission[] = "reference/admission/";

struct ReferenceRequest {
  std::string file;
  ReviewVersion version;
  Operation operation;
  std::string kind;
  std::string sub_resource;
  bool dry_run;
  bool has_object;
  bool has_old_object;
};

// What the policy's filter keeps of `object`, built from the full DOM by hand.
json SelectedByEtcdFilter(const json& object) {
  json out = json::object();
  if (object.contains("metadata")) {
    const json& metadata = object["metadata"];
    out["metadata"] = json::object();
    if (metadata.contains("name"))
      out["metadata"]["name"] = metadata["name"];
    if (metadata.contains("labels")) {
      out["metadata"]["labels"] = json::object();
      for (const char* key : {kLabelManagedBy, kLabelComponent, kLegacyLabelApp}) {
        if (metadata["labels"].contains(key))
          out["metadata"]["labels"][key] = metadata["labels"][key];
      }
    }
  }
  if (object.contains("spec")) {
    const json& spec = object["spec"];
    out["spec"] = json::object();
    for (const char* key : {"replicas", "ordinals"}) {
      if (spec.contains(key))
        out["spec"][key] = spec[key];
    }
    if (spec.contains("template")) {
      out["spec"]["template"] = json::object();
      if (spec["template"].contains("spec")) {
        out["spec"]["template"]["spec"] = json::object();
        const json& pod = spec["template"]["spec"];
        if (pod.contains("hostAliases"))
          out["spec"]["template"]["spec"]["hostAliases"] = pod["hostAliases"];
      }
    }
  }
  return out;
}

class ReferenceRequestTest : public ::testing::TestWithParam<ReferenceRequest> {};

TEST_P(ReferenceRequestTest, DecodesEveryField) {
  const ReferenceRequest& want = GetParam();
  std::string body = ReadShared(std::string(kAdmission) + want.file);
  json raw = json::parse(body)["request"];
  auto decoded = DecodeAdmissionReview(body, kWholeObject);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  const AdmissionRequest& request = *decoded;
  EXPECT_EQ(request.version, want.version);
  EXPECT_EQ(request.uid, raw["uid"].get<std::string>());
  EXPECT_EQ(request.operation, want.operation);
  EXPECT_EQ(OperationName(request.operation), raw["operation"].get<std::string>());
  EXPECT_EQ(request.kind.kind, want.kind);
  EXPECT_EQ(request.kind.group, raw["kind"]["group"].get<std::string>());
  EXPECT_EQ(request.kind.version, raw["kind"]["version"].get<std::string>());
  EXPECT_EQ(request.resource.group, raw["resource"]["group"].get<std::string>());
  EXPECT_EQ(request.resource.resource, raw["resource"]["resource"].get<std::string>());
  EXPECT_EQ(request.sub_resource, want.sub_resource);
  EXPECT_EQ(request.name, raw["name"].get<std::string>());
  EXPECT_EQ(request.namespace_name, raw["namespace"].get<std::string>());
  EXPECT_EQ(request.dry_run, want.dry_run);
  EXPECT_EQ(request.object.is_object(), want.has_object);
  EXPECT_EQ(request.has_old_object, want.has_old_object);
  if (want.has_object) {
    EXPECT_EQ(request.object, raw["object"]);
  }
  EXPECT_EQ(ObjectName(request), raw["name"].get<std::string>());
}

TEST_P(ReferenceRequestTest, PolicyFilterBuildsOnlyWhatThePolicyReads) {
  const ReferenceRequest& want = GetParam();
  std::string body = ReadShared(std::string(kAdmission) + want.file);
  json raw = json::parse(body)["request"];
  auto decoded = DecodeAdmissionReview(body, kEtcdObjectFilter);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded->uid, raw["uid"].get<std::string>());
  EXPECT_EQ(decoded->has_old_object, want.has_old_object);
  if (want.has_object) {
    EXPECT_EQ(decoded->object, SelectedByEtcdFilter(raw["object"]));
  } else {
    EXPECT_TRUE(decoded->object.is_null());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Reference, ReferenceRequestTest,
    ::testing::Values(ReferenceRequest{"etcd-sts-create.request.json", ReviewVersion::kV1,
                                       Operation::kCreate, "StatefulSet", "", false, true, false},
                      ReferenceRequest{"etcd-sts-update.request.json", ReviewVersion::kV1,
                                       Operation::kUpdate, "StatefulSet", "", false, true, true},
                      ReferenceRequest{"etcd-sts-update-dryrun.request.json", ReviewVersion::kV1,
                                       Operation::kUpdate, "StatefulSet", "", true, true, true},
                      ReferenceRequest{"etcd-sts-scale-subresource-update.request.json",
                                       ReviewVersion::kV1, Operation::kUpdate, "Scale", "scale",
                                       false, true, true},
                      ReferenceRequest{"etcd-sts-delete.request.json", ReviewVersion::kV1,
                                       Operation::kDelete, "StatefulSet", "", false, false, true},
                      ReferenceRequest{"k8s-docs-scale-subresource-update.request.json",
                                       ReviewVersion::kV1, Operation::kUpdate, "Scale", "scale",
                                       false, true, true},
                      ReferenceRequest{"k8s-docs-scale-subresource-update.v1beta1.request.json",
                                       ReviewVersion::kV1beta1, Operation::kUpdate, "Scale",
                                       "scale", false, true, true}),
    [](const auto& info) {
      std::string name = info.param.file.substr(0, info.param.file.find(".request"));
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)))
          c = '_';
      }
      return name;
    });

TEST(ObjectNameTest, FallsBackToMetadataName) {
  AdmissionRequest request;
  request.object = {{"metadata", {{"name", "etcd-main"}}}};
  EXPECT_EQ(ObjectName(request), "etcd-main");
  request.name = "other";
  EXPECT_EQ(ObjectName(request), "other");
  request.name.clear();
  request.object = {{"metadata", {{"generateName", "etcd-"}}}};
  EXPECT_EQ(ObjectName(request), "");
}

// A minimal valid review to break one field at a time.
json MinimalReview() {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "u-1"},
            {"kind", {{"group", "apps"}, {"version", "v1"}, {"kind", "StatefulSet"}}},
            {"resource", {{"group", "apps"}, {"version", "v1"}, {"resource", "statefulsets"}}},
            {"name", "etcd-main"},
            {"namespace", "shoot--a--b"},
            {"operation", "UPDATE"},
            {"object", {{"metadata", {{"name", "etcd-main"}}}}},
            {"oldObject", nullptr},
            {"dryRun", false}}}};
}

TEST(DecodeTest, MinimalReviewDecodes) {
  auto decoded = DecodeAdmissionReview(MinimalReview().dump(), kEtcdObjectFilter);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded->uid, "u-1");
  EXPECT_FALSE(decoded->has_old_object);
}

struct BadBody {
  std::string name;
  std::string body;
  std::string message_part;
};

std::vector<BadBody> BadBodies() {
  std::vector<BadBody> cases;
  auto with = [](auto edit) {
    json review = MinimalReview();
    edit(review);
    return review.dump();
  };
  cases.push_back({"empty", "", "body is empty"});
  cases.push_back({"not_json", "hello", "not valid JSON"});
  cases.push_back({"truncated", MinimalReview().dump().substr(0, 40), "not valid JSON"});
  cases.push_back({"invalid_utf8", "{\"apiVersion\":\"\xff\xfe\"}", "not valid JSON"});
  // The same breakages where the decoder skips instead of building (inside object.spec).
  auto in_skipped = [&with](std::string value) {
    std::string body = with([](json& r) { r["request"]["object"]["spec"] = {{"x", "MARK"}}; });
    return body.replace(body.find("\"MARK\""), 6, value);
  };
  cases.push_back({"skipped_invalid_utf8", in_skipped("\"\xc0\x80\""), "not valid JSON"});
  cases.push_back({"skipped_lone_surrogate", in_skipped(R"("\udc00")"), "not valid JSON"});
  cases.push_back({"skipped_control_char", in_skipped("\"a\tb\""), "not valid JSON"});
  cases.push_back({"skipped_bad_escape", in_skipped(R"("\x")"), "not valid JSON"});
  cases.push_back({"skipped_leading_zero", in_skipped("012"), "not valid JSON"});
  cases.push_back({"skipped_trailing_comma", in_skipped("[1,]"), "not valid JSON"});
  cases.push_back({"skipped_bad_literal", in_skipped("nul"), "not valid JSON"});
  cases.push_back({"skipped_number_overflow", in_skipped("-1e400"), "number is out of range"});
  cases.push_back({"trailing_garbage", MinimalReview().dump() + " x", "not valid JSON"});
  cases.push_back(
      {"trailing_nul", MinimalReview().dump() + std::string(1, '\0'), "not valid JSON"});
  // Found by the fuzzer: nlohmann throws out_of_range (not parse_error) for this.
  cases.push_back({"number_overflow",
                   R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","x":1e400})",
                   "number is out of range"});
  cases.push_back({"array", "[]", "must be a JSON object"});
  cases.push_back({"string", "\"x\"", "must be a JSON object"});
  cases.push_back({"deep_nesting", std::string(100000, '['), "nests deeper"});
  cases.push_back({"deep_object_nesting", with([](json& r) {
                     json deep = 1;
                     for (int i = 0; i < 200; ++i)
                       deep = json{{"a", deep}};
                     r["request"]["object"]["deep"] = deep;
                   }),
                   "nests deeper"});
  cases.push_back({"wrong_api_version",
                   with([](json& r) { r["apiVersion"] = "admission.k8s.io/v2"; }),
                   "unsupported apiVersion"});
  cases.push_back({"missing_api_version", with([](json& r) { r.erase("apiVersion"); }),
                   "unsupported apiVersion"});
  cases.push_back({"api_version_not_string", with([](json& r) { r["apiVersion"] = 1; }),
                   "apiVersion must be a string"});
  cases.push_back({"long_api_version",
                   with([](json& r) { r["apiVersion"] = std::string(5000, 'x'); }), "...\""});
  cases.push_back(
      {"wrong_kind", with([](json& r) { r["kind"] = "ConversionReview"; }), "unsupported kind"});
  cases.push_back({"missing_request", with([](json& r) { r.erase("request"); }), "no request"});
  cases.push_back({"null_request", with([](json& r) { r["request"] = nullptr; }), "no request"});
  cases.push_back({"request_not_object", with([](json& r) { r["request"] = json::array(); }),
                   "request must be a JSON object"});
  cases.push_back(
      {"missing_uid", with([](json& r) { r["request"].erase("uid"); }), "uid is required"});
  cases.push_back(
      {"empty_uid", with([](json& r) { r["request"]["uid"] = ""; }), "uid is required"});
  cases.push_back(
      {"uid_not_string", with([](json& r) { r["request"]["uid"] = 7; }), "uid must be a string"});
  cases.push_back({"missing_kind", with([](json& r) { r["request"].erase("kind"); }),
                   "request.kind must be an object"});
  cases.push_back({"kind_without_kind", with([](json& r) { r["request"]["kind"].erase("kind"); }),
                   "request.kind.kind is required"});
  cases.push_back({"missing_resource", with([](json& r) { r["request"].erase("resource"); }),
                   "request.resource must be an object"});
  cases.push_back({"resource_not_string",
                   with([](json& r) { r["request"]["resource"]["resource"] = 1; }),
                   "request.resource.resource must be a string"});
  cases.push_back({"name_not_string", with([](json& r) { r["request"]["name"] = true; }),
                   "request.name must be a string"});
  cases.push_back({"unknown_operation", with([](json& r) { r["request"]["operation"] = "PATCH"; }),
                   "is not one of"});
  cases.push_back({"missing_operation", with([](json& r) { r["request"].erase("operation"); }),
                   "is not one of"});
  cases.push_back({"dry_run_not_bool", with([](json& r) { r["request"]["dryRun"] = "true"; }),
                   "dryRun must be a boolean"});
  cases.push_back({"object_string", with([](json& r) { r["request"]["object"] = "{}"; }),
                   "request.object must be a JSON object"});
  cases.push_back({"object_array", with([](json& r) { r["request"]["object"] = json::array(); }),
                   "request.object must be a JSON object"});
  cases.push_back({"old_object_number", with([](json& r) { r["request"]["oldObject"] = 3; }),
                   "request.oldObject must be a JSON object"});
  cases.push_back({"update_without_object", with([](json& r) { r["request"].erase("object"); }),
                   "request.object is required for UPDATE"});
  cases.push_back({"create_null_object", with([](json& r) {
                     r["request"]["operation"] = "CREATE";
                     r["request"]["object"] = nullptr;
                   }),
                   "request.object is required for CREATE"});
  return cases;
}

TEST(DecodeTest, RejectsEveryMalformedInputWithAClearMessage) {
  for (const BadBody& bad : BadBodies()) {
    for (const JsonFilter* filter : {&kWholeObject, &kEtcdObjectFilter}) {
      SCOPED_TRACE(bad.name + (filter == &kWholeObject ? " (whole object)" : " (policy filter)"));
      auto decoded = DecodeAdmissionReview(bad.body, *filter);
      ASSERT_FALSE(decoded.ok());
      EXPECT_EQ(decoded.error().code(), ErrorCode::kBadRequest);
      EXPECT_NE(decoded.error().message().find(bad.message_part), std::string::npos)
          << decoded.error().message();
      EXPECT_LT(decoded.error().message().size(), 200u) << "messages stay short";
    }
  }
}

TEST(DecodeTest, BracketsInsideStringsDoNotCountAsNesting) {
  json review = MinimalReview();
  review["request"]["object"]["note"] = std::string(1000, '[') + "\\\"{{{";
  auto decoded = DecodeAdmissionReview(review.dump(), kWholeObject);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded->object["note"], review["request"]["object"]["note"]);
}

TEST(DecodeTest, DeleteMayCarryNullObject) {
  json review = MinimalReview();
  review["request"]["operation"] = "DELETE";
  review["request"]["object"] = nullptr;
  auto decoded = DecodeAdmissionReview(review.dump(), kEtcdObjectFilter);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded->operation, Operation::kDelete);
  EXPECT_TRUE(decoded->object.is_null());
}

TEST(Base64Test, Rfc4648Vectors) {
  EXPECT_EQ(encoding::Base64Encode(""), "");
  EXPECT_EQ(encoding::Base64Encode("f"), "Zg==");
  EXPECT_EQ(encoding::Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(encoding::Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(encoding::Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(encoding::Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(encoding::Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, AppendsAfterWhatIsThere) {
  for (std::string_view data : {"", "f", "fo", "foo", "foob"}) {
    std::string out = R"({"patch":")";
    encoding::AppendBase64(out, data);
    EXPECT_EQ(out, R"({"patch":")" + encoding::Base64Encode(data)) << data;
  }
}

TEST(Base64Test, MatchesTheKubernetesDocsPatch) {
  json docs = SharedJson(std::string(kAdmission) + "k8s-docs-response-patch.json");
  EXPECT_EQ(encoding::Base64Encode(R"([{"op": "add", "path": "/spec/replicas", "value": 3}])"),
            docs["response"]["patch"].get<std::string>());
}

TEST(Base64Test, RoundTripsThroughOpenSsl) {
  std::mt19937 random(42);
  for (size_t size = 0; size < 300; ++size) {
    std::string data(size, '\0');
    for (char& c : data)
      c = static_cast<char>(random() & 0xFF);
    EXPECT_EQ(Base64DecodeOpenSsl(encoding::Base64Encode(data)), data) << "size " << size;
  }
}

TEST(EncodeTest, AllowedHasNoPatchNoStatus) {
  AdmissionRequest request = testing::MustDecode(MinimalReview());
  json review = json::parse(EncodeAdmissionReview(Allowed(request), ReviewVersion::kV1));
  EXPECT_EQ(VerifyAdmissionResponse(review, "u-1", "admission.k8s.io/v1"), "");
  EXPECT_EQ(review["response"], (json{{"uid", "u-1"}, {"allowed", true}}));
}

TEST(EncodeTest, EmptyPatchIsNotSent) {
  AdmissionRequest request = testing::MustDecode(MinimalReview());
  json review = json::parse(EncodeAdmissionReview(Patched(request, "[]"), ReviewVersion::kV1));
  EXPECT_FALSE(review["response"].contains("patch"));
  EXPECT_FALSE(review["response"].contains("patchType"));
}

TEST(EncodeTest, PatchIsBase64JsonWithPatchType) {
  AdmissionRequest request = testing::MustDecode(MinimalReview());
  json operations = json::array({{{"op", "add"}, {"path", "/spec/replicas"}, {"value", 3}}});
  AdmissionResponse response = Patched(request, operations.dump());
  response.warnings = {"careful"};
  json review = json::parse(EncodeAdmissionReview(response, ReviewVersion::kV1));
  EXPECT_EQ(VerifyAdmissionResponse(review, "u-1", "admission.k8s.io/v1"), "");
  EXPECT_EQ(review["response"]["patchType"], "JSONPatch");
  EXPECT_EQ(json::parse(Base64DecodeOpenSsl(review["response"]["patch"])), operations);
  EXPECT_EQ(review["response"]["warnings"], json::array({"careful"}));
  EXPECT_TRUE(review["response"]["allowed"].get<bool>());
}

TEST(EncodeTest, DeniedCarriesStatus) {
  AdmissionRequest request = testing::MustDecode(MinimalReview());
  json review = json::parse(
      EncodeAdmissionReview(Denied(request, 400, "spec must be an object"), ReviewVersion::kV1));
  EXPECT_EQ(VerifyAdmissionResponse(review, "u-1", "admission.k8s.io/v1"), "");
  EXPECT_FALSE(review["response"]["allowed"].get<bool>());
  EXPECT_EQ(review["response"]["status"]["code"], 400);
  EXPECT_EQ(review["response"]["status"]["message"], "spec must be an object");
  EXPECT_FALSE(review["response"].contains("patch"));
}

// The answer is written out by hand; it must be exactly what nlohmann::json would write, escapes
// and the replacement of invalid UTF-8 included.
TEST(EncodeTest, WritesWhatNlohmannWouldWrite) {
  AdmissionRequest request = testing::MustDecode(MinimalReview());
  request.uid = "u\"1\\\n\xff";
  AdmissionResponse patched =
      Patched(request, json::array({{{"op", "add"}, {"path", "/a"}, {"value", "\u00e9"}}}).dump());
  patched.warnings = {"one \"quoted\"", "two"};
  AdmissionResponse denied = Denied(request, 400, "bad \t\x01 thing");
  denied.warnings = {"w"};
  for (const AdmissionResponse* response : {&patched, &denied}) {
    json body = {{"uid", response->uid}, {"allowed", response->allowed}};
    if (!response->allowed) {
      body["status"] = {{"status", "Failure"},
                        {"code", response->status_code},
                        {"message", response->status_message}};
    } else {
      body["patch"] = encoding::Base64Encode(json::parse(response->patch).dump());
      body["patchType"] = "JSONPatch";
    }
    body["warnings"] = response->warnings;
    json want = {{"apiVersion", "admission.k8s.io/v1beta1"},
                 {"kind", "AdmissionReview"},
                 {"response", body}};
    EXPECT_EQ(EncodeAdmissionReview(*response, ReviewVersion::kV1beta1),
              want.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

TEST(EncodeTest, AnswersInTheVersionAsked) {
  std::string body = ReadShared(std::string(kAdmission) +
                                "k8s-docs-scale-subresource-update.v1beta1.request.json");
  auto request = DecodeAdmissionReview(body, kEtcdObjectFilter);
  ASSERT_TRUE(request.ok());
  json review = json::parse(EncodeAdmissionReview(Allowed(*request), request->version));
  EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1beta1");
  EXPECT_EQ(review["kind"], "AdmissionReview");
  EXPECT_EQ(review["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(VerifyAdmissionResponse(review, request->uid, "admission.k8s.io/v1beta1"), "");
}

// The checker must itself catch what kube-apiserver rejects, or passing it proves nothing.
TEST(VerifyTest, RejectsEveryReferenceInvalidResponse) {
  json invalid = SharedJson(std::string(kAdmission) + "invalid-responses.json");
  ASSERT_GE(invalid.size(), 5u);
  for (const auto& [name, review] : invalid.items()) {
    EXPECT_NE(VerifyAdmissionResponse(review, "7c2e9a41-3b5d-4f8e-a1c6-9d0b2e4f6a8c",
                                      "admission.k8s.io/v1"),
              "")
        << name;
  }
}

TEST(VerifyTest, AcceptsTheReferenceValidResponses) {
  json example =
      SharedJson(std::string(kAdmission) + "etcd-sts-update.response-patch.example.json");
  EXPECT_EQ(VerifyAdmissionResponse(example, "7c2e9a41-3b5d-4f8e-a1c6-9d0b2e4f6a8c",
                                    "admission.k8s.io/v1"),
            "");
  for (const char* file :
       {"k8s-docs-response-allow.json", "k8s-docs-response-deny.json",
        "k8s-docs-response-deny-with-status.json", "k8s-docs-response-patch.json"}) {
    EXPECT_EQ(VerifyAdmissionResponse(SharedJson(std::string(kAdmission) + file),
                                      "<value from request.uid>", "admission.k8s.io/v1"),
              "")
        << file;
  }
}

}  // namespace
}  // namespace seedhop::webhook

namespace seedhop::webhook {
namespace {

TEST(DecodeTest, PolicyFilterSkipsManagedFieldsAndTheOldObject) {
  nlohmann::json review = testing::SharedJson("reference/admission/etcd-sts-update.request.json");
  review["request"]["object"]["metadata"]["managedFields"] =
      nlohmann::json::array({{{"manager", "y"}}});
  auto decoded = DecodeAdmissionReview(review.dump(), kEtcdObjectFilter);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_TRUE(decoded->has_old_object);
  EXPECT_FALSE(decoded->object["metadata"].contains("managedFields"));
  EXPECT_FALSE(decoded->object["spec"]["template"]["spec"].contains("containers"));
  EXPECT_EQ(decoded->object["spec"]["replicas"], review["request"]["object"]["spec"]["replicas"]);
}

// A later member of the same name replaces an earlier one whole, as in nlohmann::json::parse,
// and names written with escapes are the names they spell.
TEST(DecodeTest, PolicyFilterReadsDuplicatesAndEscapedNamesAsNlohmannDoes) {
  std::string body = MinimalReview().dump();
  body.replace(body.find(R"("object":{)"), 10,
               R"("object":{"spec":{"replicas":1,"template":{}},"sp\u0065c":{"replicas":2},)");
  auto decoded = DecodeAdmissionReview(body, kEtcdObjectFilter);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  json full = json::parse(body)["request"]["object"];
  EXPECT_EQ(decoded->object, SelectedByEtcdFilter(full));
  EXPECT_EQ(decoded->object["spec"], (json{{"replicas", 2}}));
}

}  // namespace
}  // namespace seedhop::webhook
