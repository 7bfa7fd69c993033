// Presets and Hugging Face config.json loading: every shipped preset has its published numbers,
// every family's config.json maps to the right ModelConfig, and every bad input is one clear
// InputError line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "core/presets.hpp"

namespace fs = std::filesystem;
using moebench::Activation;
using moebench::AttentionKind;
using moebench::InputError;
using moebench::load_hf_config;
using moebench::load_preset;
using moebench::ModelConfig;
using moebench::parse_hf_config;
using moebench::ScoringFunc;
using nlohmann::json;

namespace {

fs::path hf_dir(const std::string& family) { return fs::path(MOEBENCH_TEST_DATA) / "hf" / family; }

json family_json(const std::string& family) {
  std::ifstream in(hf_dir(family) / "config.json");
  return json::parse(in);
}

ModelConfig parse(const json& doc) { return parse_hf_config(doc.dump(2), "config.json"); }

// `fn` must throw InputError (not another exception) with a one-line message holding every part.
void expect_input_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected an InputError holding \"" << *parts.begin() << "\"";
  } catch (const InputError& e) {
    std::string message = e.what();
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

void expect_parse_error(const json& doc, std::initializer_list<std::string> parts) {
  expect_input_error([&] { parse(doc); }, parts);
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("moebench-config-" + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

const char* const kFamilies[] = {"deepseek_v2", "deepseek_v3", "glm4_moe", "gpt_oss",  "kimi_k2",
                                 "minimax_m2",  "mixtral",     "qwen2_moe", "qwen3_moe"};

// ---------------------------------------------------------------------------------------------
// Presets

struct PresetNumbers {
  const char* name;
  const char* family;
  int64_t hidden;
  int experts;
  int top_k;
  int64_t moe_inter;
  int layers;
  int heads;
  int kv_heads;
  int head_dim;
  int shared;               // shared experts
  int64_t shared_inter;     // width of each
  int first_k_dense;
  int64_t vocab;
  int64_t max_positions;
  const char* weight_dtype;
};

// The published numbers (see each preset's _moebench.source); small/medium/large are seed 004's.
const PresetNumbers kPresets[] = {
    // name                  family        hidden  E    k  inter  L   H    KV   hd   sh  sh_inter dense vocab   max_pos  dtype
    {"deepseek-v3",           "deepseek_v3", 7168, 256, 8, 2048,  61, 128, 128, 192, 1, 2048, 3, 129280, 163840, "fp8"},
    {"glm-4.6",               "glm4_moe",    5120, 160, 8, 1536,  92, 96,  8,   128, 1, 1536, 3, 151552, 202752, "bf16"},
    {"gpt-oss-120b",          "gpt_oss",     2880, 128, 4, 2880,  36, 64,  8,   64,  0, 0,    0, 201088, 131072, "bf16"},
    {"kimi-k2",               "kimi_k2",     7168, 384, 8, 2048,  61, 64,  64,  192, 1, 2048, 1, 163840, 131072, "fp8"},
    {"large",                 "deepseek_v3", 7168, 256, 8, 14336, 61, 128, 128, 192, 0, 0,    3, 129280, 163840, "bf16"},
    {"medium",                "mixtral",     4096, 64,  4, 14336, 32, 32,  8,   128, 0, 0,    0, 32000,  32768,  "bf16"},
    {"minimax-m2",            "minimax_m2",  3072, 256, 8, 1536,  62, 48,  8,   128, 0, 0,    0, 200064, 196608, "fp8"},
    {"mixtral-8x7b",          "mixtral",     4096, 8,   2, 14336, 32, 32,  8,   128, 0, 0,    0, 32000,  32768,  "bf16"},
    {"qwen1.5-moe-a2.7b",     "qwen2_moe",   2048, 60,  4, 1408,  24, 16,  16,  128, 1, 5632, 0, 151936, 8192,   "bf16"},
    {"qwen3-235b-a22b",       "qwen3_moe",   4096, 128, 8, 1536,  94, 64,  4,   128, 0, 0,    0, 151936, 40960,  "bf16"},
    {"qwen3-30b-a3b",         "qwen3_moe",   2048, 128, 8, 768,   48, 32,  4,   128, 0, 0,    0, 151936, 40960,  "bf16"},
    {"qwen3-coder-30b-a3b",   "qwen3_moe",   2048, 128, 8, 768,   48, 32,  4,   128, 0, 0,    0, 151936, 262144, "bf16"},
    {"qwen3-coder-480b-a35b", "qwen3_moe",   6144, 160, 8, 2560,  62, 96,  8,   128, 0, 0,    0, 151936, 262144, "fp8"},
    {"small",                 "mixtral",     1024, 8,   2, 4096,  16, 16,  8,   64,  0, 0,    0, 32000,  4096,   "bf16"},
    {"tiny",                  "qwen3_moe",   128,  8,   2, 64,    4,  4,   2,   64,  0, 0,    1, 512,    1024,   "bf16"},
};

TEST(Presets, NamesAreExactlyTheShippedSet) {
  std::vector<std::string> expected;
  for (const PresetNumbers& p : kPresets) expected.emplace_back(p.name);
  EXPECT_EQ(moebench::preset_names(), expected);  // sorted, file name = preset name (glm-4.6 keeps its dot)
}

TEST(Presets, EveryPresetHasItsPublishedNumbers) {
  for (const PresetNumbers& p : kPresets) {
    SCOPED_TRACE(p.name);
    ModelConfig c = load_preset(p.name);
    EXPECT_NO_THROW(c.validate(/*layer_only=*/false));
    EXPECT_EQ(c.name, p.name);
    EXPECT_EQ(c.family, p.family);
    EXPECT_EQ(c.hidden_size, p.hidden);
    EXPECT_EQ(c.num_experts, p.experts);
    EXPECT_EQ(c.top_k, p.top_k);
    EXPECT_EQ(c.moe_intermediate_size, p.moe_inter);
    EXPECT_EQ(c.num_layers, p.layers);
    EXPECT_EQ(c.num_attention_heads, p.heads);
    EXPECT_EQ(c.num_kv_heads, p.kv_heads);
    EXPECT_EQ(c.head_dim, p.head_dim);
    EXPECT_EQ(c.num_shared_experts, p.shared);
    EXPECT_EQ(c.shared_intermediate_size, p.shared_inter);
    EXPECT_EQ(c.first_k_dense_replace, p.first_k_dense);
    EXPECT_EQ(c.vocab_size, p.vocab);
    EXPECT_EQ(c.max_position_embeddings, p.max_positions);
    EXPECT_EQ(c.weight_dtype, p.weight_dtype);
  }
}

TEST(Presets, RoutingAndAttentionDetails) {
  ModelConfig ds = load_preset("deepseek-v3");
  EXPECT_EQ(ds.scoring, ScoringFunc::sigmoid);
  EXPECT_TRUE(ds.score_correction_bias);
  EXPECT_EQ(ds.n_group, 8);
  EXPECT_EQ(ds.topk_group, 4);
  EXPECT_DOUBLE_EQ(ds.routed_scaling_factor, 2.5);
  EXPECT_EQ(ds.dense_intermediate_size, 18432);
  EXPECT_EQ(ds.attention, AttentionKind::mla);
  EXPECT_EQ(ds.q_lora_rank, 1536);
  EXPECT_EQ(ds.kv_lora_rank, 512);
  EXPECT_EQ(ds.v_head_dim, 128);
  EXPECT_EQ(ds.moe_layer_count(), 58);

  ModelConfig kimi = load_preset("kimi-k2");
  EXPECT_EQ(kimi.n_group, 1);
  EXPECT_DOUBLE_EQ(kimi.routed_scaling_factor, 2.827);
  EXPECT_DOUBLE_EQ(kimi.rope_theta, 50000.0);

  ModelConfig glm = load_preset("glm-4.6");
  EXPECT_EQ(glm.scoring, ScoringFunc::sigmoid);
  EXPECT_TRUE(glm.score_correction_bias);
  EXPECT_TRUE(glm.qk_norm);
  EXPECT_DOUBLE_EQ(glm.routed_scaling_factor, 2.5);
  EXPECT_EQ(glm.attention, AttentionKind::gqa);

  ModelConfig mm = load_preset("minimax-m2");
  EXPECT_EQ(mm.scoring, ScoringFunc::sigmoid);
  EXPECT_TRUE(mm.score_correction_bias);
  EXPECT_TRUE(mm.norm_topk_prob);

  ModelConfig oss = load_preset("gpt-oss-120b");
  EXPECT_EQ(oss.activation, Activation::swigluoai);  // although its config.json says "silu"
  EXPECT_EQ(oss.scoring, ScoringFunc::softmax);
  EXPECT_TRUE(oss.norm_topk_prob);

  ModelConfig q15 = load_preset("qwen1.5-moe-a2.7b");
  EXPECT_TRUE(q15.shared_expert_gate);
  EXPECT_FALSE(q15.norm_topk_prob);

  ModelConfig q3 = load_preset("qwen3-30b-a3b");
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_TRUE(q3.norm_topk_prob);
  EXPECT_DOUBLE_EQ(q3.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(load_preset("qwen3-coder-30b-a3b").rope_theta, 1e7);

  ModelConfig mix = load_preset("mixtral-8x7b");
  EXPECT_TRUE(mix.norm_topk_prob);
  EXPECT_DOUBLE_EQ(mix.rms_norm_eps, 1e-5);

  ModelConfig large = load_preset("large");
  EXPECT_EQ(large.n_group, 8);
  EXPECT_EQ(large.topk_group, 4);
  EXPECT_TRUE(large.score_correction_bias);
}

TEST(Presets, UnknownPresetListsTheAvailableOnes) {
  expect_input_error([] { load_preset("foo"); },
                     {"unknown preset 'foo': available presets are deepseek-v3, glm-4.6,", "qwen3-30b-a3b",
                      "(or use --model-path / --manual-config)"});
  expect_input_error([] { load_preset(""); }, {"unknown preset ''"});
}

// ---------------------------------------------------------------------------------------------
// config.json of every family

TEST(HfConfig, Qwen2Moe) {
  ModelConfig c = load_hf_config(hf_dir("qwen2_moe").string());  // Qwen2-57B-A14B
  EXPECT_EQ(c.family, "qwen2_moe");
  EXPECT_EQ(c.hidden_size, 3584);
  EXPECT_EQ(c.num_experts, 64);
  EXPECT_EQ(c.top_k, 8);
  EXPECT_EQ(c.moe_intermediate_size, 2560);
  EXPECT_EQ(c.num_shared_experts, 1);
  EXPECT_EQ(c.shared_intermediate_size, 20480);
  EXPECT_TRUE(c.shared_expert_gate);
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_EQ(c.scoring, ScoringFunc::softmax);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.num_layers, 28);
  EXPECT_EQ(c.first_k_dense_replace, 0);
  EXPECT_EQ(c.num_attention_heads, 28);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 128);  // hidden / heads: the file has no head_dim
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.weight_dtype, "bf16");
}

TEST(HfConfig, Qwen3Moe) {
  ModelConfig c = load_hf_config(hf_dir("qwen3_moe").string());  // Qwen3-235B-A22B-Instruct-2507
  EXPECT_EQ(c.family, "qwen3_moe");
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_experts, 128);
  EXPECT_EQ(c.top_k, 8);
  EXPECT_EQ(c.moe_intermediate_size, 1536);
  EXPECT_EQ(c.num_shared_experts, 0);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_EQ(c.num_layers, 94);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.max_position_embeddings, 262144);
  EXPECT_DOUBLE_EQ(c.rope_theta, 5e6);
  EXPECT_EQ(c.attention, AttentionKind::gqa);
}

TEST(HfConfig, Mixtral) {
  ModelConfig c = load_hf_config(hf_dir("mixtral").string());  // Mixtral-8x22B
  EXPECT_EQ(c.family, "mixtral");
  EXPECT_EQ(c.hidden_size, 6144);
  EXPECT_EQ(c.num_experts, 8);
  EXPECT_EQ(c.top_k, 2);
  EXPECT_EQ(c.moe_intermediate_size, 16384);  // intermediate_size is the expert width
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_EQ(c.scoring, ScoringFunc::softmax);
  EXPECT_EQ(c.num_layers, 56);
  EXPECT_EQ(c.num_attention_heads, 48);
  EXPECT_EQ(c.num_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.max_position_embeddings, 65536);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
}

TEST(HfConfig, DeepseekV2) {
  ModelConfig c = load_hf_config(hf_dir("deepseek_v2").string());  // DeepSeek-V2 (236B)
  EXPECT_EQ(c.family, "deepseek_v2");
  EXPECT_EQ(c.hidden_size, 5120);
  EXPECT_EQ(c.num_experts, 160);
  EXPECT_EQ(c.top_k, 6);
  EXPECT_EQ(c.moe_intermediate_size, 1536);
  EXPECT_EQ(c.num_shared_experts, 2);
  EXPECT_EQ(c.shared_intermediate_size, 1536);  // each shared expert, not 2 x 1536
  EXPECT_EQ(c.scoring, ScoringFunc::softmax);
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_FALSE(c.score_correction_bias);  // group_limited_greedy, not noaux_tc
  EXPECT_EQ(c.n_group, 8);
  EXPECT_EQ(c.topk_group, 3);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 16.0);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.dense_intermediate_size, 12288);
  EXPECT_EQ(c.moe_layer_count(), 59);
  EXPECT_EQ(c.attention, AttentionKind::mla);
  EXPECT_EQ(c.q_lora_rank, 1536);
  EXPECT_EQ(c.kv_lora_rank, 512);
  EXPECT_EQ(c.qk_nope_head_dim, 128);
  EXPECT_EQ(c.qk_rope_head_dim, 64);
  EXPECT_EQ(c.v_head_dim, 128);
  EXPECT_EQ(c.head_dim, 192);
  EXPECT_EQ(c.num_attention_heads, 128);
  EXPECT_EQ(c.num_kv_heads, 128);
  EXPECT_EQ(c.vocab_size, 102400);
}

TEST(HfConfig, DeepseekV3) {
  ModelConfig c = load_hf_config(hf_dir("deepseek_v3").string());  // Moonlight-16B-A3B
  EXPECT_EQ(c.family, "deepseek_v3");
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.num_experts, 64);
  EXPECT_EQ(c.top_k, 6);
  EXPECT_EQ(c.moe_intermediate_size, 1408);
  EXPECT_EQ(c.num_shared_experts, 2);
  EXPECT_EQ(c.shared_intermediate_size, 1408);
  EXPECT_EQ(c.scoring, ScoringFunc::sigmoid);
  EXPECT_TRUE(c.score_correction_bias);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.446);
  EXPECT_EQ(c.n_group, 1);
  EXPECT_EQ(c.topk_group, 1);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.dense_intermediate_size, 11264);
  EXPECT_EQ(c.q_lora_rank, 0);  // "q_lora_rank": null
  EXPECT_EQ(c.head_dim, 192);
  EXPECT_EQ(c.num_layers, 27);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 50000.0);
}

TEST(HfConfig, KimiK2) {
  ModelConfig c = load_hf_config(hf_dir("kimi_k2").string());  // Kimi-K2-Instruct-0905
  EXPECT_EQ(c.family, "kimi_k2");
  EXPECT_EQ(c.num_experts, 384);
  EXPECT_EQ(c.top_k, 8);
  EXPECT_EQ(c.moe_intermediate_size, 2048);
  EXPECT_EQ(c.num_shared_experts, 1);
  EXPECT_EQ(c.shared_intermediate_size, 2048);
  EXPECT_EQ(c.scoring, ScoringFunc::sigmoid);
  EXPECT_TRUE(c.score_correction_bias);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.827);
  EXPECT_EQ(c.attention, AttentionKind::mla);
  EXPECT_EQ(c.num_attention_heads, 64);
  EXPECT_EQ(c.max_position_embeddings, 262144);
  EXPECT_EQ(c.weight_dtype, "fp8");
}

TEST(HfConfig, Glm4Moe) {
  ModelConfig c = load_hf_config(hf_dir("glm4_moe").string());  // GLM-4.5-Air
  EXPECT_EQ(c.family, "glm4_moe");
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_experts, 128);
  EXPECT_EQ(c.top_k, 8);
  EXPECT_EQ(c.moe_intermediate_size, 1408);
  EXPECT_EQ(c.num_shared_experts, 1);
  EXPECT_EQ(c.shared_intermediate_size, 1408);
  EXPECT_EQ(c.scoring, ScoringFunc::sigmoid);
  EXPECT_TRUE(c.score_correction_bias);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.0);
  EXPECT_FALSE(c.qk_norm);  // "use_qk_norm": false in Air
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.dense_intermediate_size, 10944);
  EXPECT_EQ(c.num_layers, 46);
  EXPECT_EQ(c.num_attention_heads, 96);
  EXPECT_EQ(c.num_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);  // explicit: 4096 / 96 is not whole
  EXPECT_EQ(c.attention, AttentionKind::gqa);
}

TEST(HfConfig, MinimaxM2) {
  ModelConfig c = load_hf_config(hf_dir("minimax_m2").string());
  EXPECT_EQ(c.family, "minimax_m2");
  EXPECT_EQ(c.hidden_size, 3072);
  EXPECT_EQ(c.num_experts, 256);
  EXPECT_EQ(c.top_k, 8);
  EXPECT_EQ(c.moe_intermediate_size, 1536);
  EXPECT_EQ(c.num_shared_experts, 0);
  EXPECT_EQ(c.scoring, ScoringFunc::sigmoid);
  EXPECT_TRUE(c.score_correction_bias);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_EQ(c.num_layers, 62);
  EXPECT_EQ(c.num_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.weight_dtype, "fp8");
  EXPECT_DOUBLE_EQ(c.rope_theta, 5e6);
}

TEST(HfConfig, GptOss) {
  ModelConfig c = load_hf_config(hf_dir("gpt_oss").string());  // gpt-oss-20b
  EXPECT_EQ(c.family, "gpt_oss");
  EXPECT_EQ(c.hidden_size, 2880);
  EXPECT_EQ(c.num_experts, 32);
  EXPECT_EQ(c.top_k, 4);
  EXPECT_EQ(c.moe_intermediate_size, 2880);
  EXPECT_EQ(c.activation, Activation::swigluoai);
  EXPECT_EQ(c.scoring, ScoringFunc::softmax);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_EQ(c.num_layers, 24);
  EXPECT_EQ(c.num_attention_heads, 64);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.vocab_size, 201088);
  EXPECT_EQ(c.weight_dtype, "bf16");  // mxfp4 is not fp8: the bf16 default stays
  EXPECT_DOUBLE_EQ(c.rope_theta, 150000.0);
}

// OLMoE (OLMoE-1B-7B-0924, its published field names): no family reader, read by its fields.
TEST(HfConfig, OlmoeByItsFields) {
  ModelConfig c = load_hf_config(hf_dir("olmoe").string());
  EXPECT_EQ(c.family, "olmoe");
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.num_experts, 64);
  EXPECT_EQ(c.top_k, 8);
  EXPECT_EQ(c.moe_intermediate_size, 1024);  // intermediate_size: there is no moe_intermediate_size
  EXPECT_EQ(c.num_shared_experts, 0);
  EXPECT_EQ(c.scoring, ScoringFunc::softmax);
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_EQ(c.num_layers, 16);
  EXPECT_EQ(c.first_k_dense_replace, 0);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.vocab_size, 50304);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_NO_THROW(c.validate(/*layer_only=*/false));
}

// A model_type nobody has seen, with the standard MoE fields: every field lands where it says.
TEST(HfConfig, UnknownModelTypeWithStandardMoeFields) {
  ModelConfig c = load_hf_config(hf_dir("unknown_moe").string());
  EXPECT_EQ(c.family, "future_moe");
  EXPECT_EQ(c.num_experts, 96);
  EXPECT_EQ(c.top_k, 6);
  EXPECT_EQ(c.moe_intermediate_size, 1024);  // moe_intermediate_size before intermediate_size
  EXPECT_EQ(c.num_shared_experts, 2);
  EXPECT_EQ(c.shared_intermediate_size, 1024);
  EXPECT_FALSE(c.shared_expert_gate);
  EXPECT_EQ(c.scoring, ScoringFunc::sigmoid);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.5);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_EQ(c.dense_intermediate_size, 8192);
  EXPECT_EQ(c.num_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_NO_THROW(c.validate(/*layer_only=*/false));

  // One shared expert of its own width, Qwen2-style names, outside the Qwen2 family: no gate.
  json doc = family_json("unknown_moe");
  doc.erase("n_shared_experts");
  doc["shared_expert_intermediate_size"] = 4096;
  ModelConfig q = parse(doc);
  EXPECT_EQ(q.num_shared_experts, 1);
  EXPECT_EQ(q.shared_intermediate_size, 4096);
  EXPECT_FALSE(q.shared_expert_gate);
}

// `layer` needs only the MoE fields: a config lacking both num_experts and a decoder field is
// told about num_experts; one lacking only decoder fields loads for the layer.
TEST(HfConfigErrors, LayerFieldsFirstDecoderFieldsWhereNeeded) {
  json doc = family_json("olmoe");
  doc.erase("num_experts");
  doc.erase("max_position_embeddings");
  expect_parse_error(doc, {"config.json: missing field \"num_experts\""});
  json layer_only = family_json("olmoe");
  for (const char* key : {"max_position_embeddings", "num_hidden_layers", "vocab_size", "num_attention_heads"})
    layer_only.erase(key);
  ModelConfig c = parse(layer_only);
  EXPECT_EQ(c.num_experts, 64);
  EXPECT_NO_THROW(c.validate(/*layer_only=*/true));
  expect_input_error([&] { c.validate(/*layer_only=*/false); }, {"missing field \"num_hidden_layers\""});
}

TEST(HfConfig, DirectoryAndFileGiveTheSameConfigNamedByThePath) {
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    std::string dir = hf_dir(family).string();
    std::string file = (hf_dir(family) / "config.json").string();
    ModelConfig a = load_hf_config(dir);
    ModelConfig b = load_hf_config(file);
    EXPECT_EQ(a.name, dir);
    EXPECT_EQ(b.name, file);
    EXPECT_EQ(a.family, family);
    EXPECT_EQ(a.num_experts, b.num_experts);
    EXPECT_EQ(a.moe_intermediate_size, b.moe_intermediate_size);
    EXPECT_NO_THROW(a.validate());
  }
}

TEST(HfConfig, LenientAlternatives) {
  // Mixtral written with Qwen's field names.
  json mix = family_json("mixtral");
  mix.erase("num_local_experts");
  mix.erase("intermediate_size");
  mix["num_experts"] = 8;
  mix["moe_intermediate_size"] = 16384;
  ModelConfig m = parse(mix);
  EXPECT_EQ(m.num_experts, 8);
  EXPECT_EQ(m.moe_intermediate_size, 16384);

  // gpt-oss with only num_experts_per_tok; whole numbers written as floats.
  json oss = family_json("gpt_oss");
  oss.erase("experts_per_token");
  oss["num_experts_per_tok"] = 2;
  oss["hidden_size"] = 2880.0;
  ModelConfig o = parse(oss);
  EXPECT_EQ(o.top_k, 2);
  EXPECT_EQ(o.hidden_size, 2880);

  // No num_key_value_heads: one KV head per query head. Newer transformers: "dtype", rope_parameters.
  json q = family_json("qwen2_moe");
  q.erase("num_key_value_heads");
  q.erase("torch_dtype");
  q.erase("rope_theta");
  q["dtype"] = "float16";
  q["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 250000.0}};
  ModelConfig qc = parse(q);
  EXPECT_EQ(qc.num_kv_heads, 28);
  EXPECT_EQ(qc.weight_dtype, "fp16");
  EXPECT_DOUBLE_EQ(qc.rope_theta, 250000.0);

  // No shared expert in a Qwen2-MoE.
  json q0 = family_json("qwen2_moe");
  q0["shared_expert_intermediate_size"] = 0;
  ModelConfig q0c = parse(q0);
  EXPECT_EQ(q0c.num_shared_experts, 0);
  EXPECT_FALSE(q0c.shared_expert_gate);

  // gelu variants.
  json g = family_json("mixtral");
  g["hidden_act"] = "gelu_pytorch_tanh";
  EXPECT_EQ(parse(g).activation, Activation::gelu);
}

TEST(HfConfig, LeadingDenseLayersInQwen) {
  json q = family_json("qwen3_moe");
  q["mlp_only_layers"] = {0, 1};
  ModelConfig c = parse(q);
  EXPECT_EQ(c.first_k_dense_replace, 2);
  EXPECT_EQ(c.dense_intermediate_size, 12288);
  EXPECT_EQ(c.moe_layer_count(), 92);
}

TEST(HfConfig, DeepseekDefaultsByVersion) {
  // Plain greedy top-k ignores the group fields (DeepSeek-V2-Lite).
  json v2 = family_json("deepseek_v2");
  v2["topk_method"] = "greedy";
  ModelConfig a = parse(v2);
  EXPECT_EQ(a.n_group, 1);
  EXPECT_EQ(a.topk_group, 1);
  // Without scoring_func / topk_method / norm_topk_prob: V2 is softmax, greedy, no renormalising;
  // V3 is sigmoid with correction bias, renormalised.
  json v2bare = family_json("deepseek_v2");
  for (const char* k : {"scoring_func", "topk_method", "norm_topk_prob"}) v2bare.erase(k);
  ModelConfig b = parse(v2bare);
  EXPECT_EQ(b.scoring, ScoringFunc::softmax);
  EXPECT_FALSE(b.score_correction_bias);
  EXPECT_FALSE(b.norm_topk_prob);
  json v3bare = family_json("deepseek_v3");
  for (const char* k : {"scoring_func", "topk_method", "norm_topk_prob", "n_shared_experts"}) v3bare.erase(k);
  ModelConfig d = parse(v3bare);
  EXPECT_EQ(d.scoring, ScoringFunc::sigmoid);
  EXPECT_TRUE(d.score_correction_bias);
  EXPECT_TRUE(d.norm_topk_prob);
  EXPECT_EQ(d.num_shared_experts, 0);
}

TEST(HfConfig, OlderMinimaxTypeDefaultsToSoftmax) {
  json m = family_json("minimax_m2");
  m["model_type"] = "minimax";
  m.erase("scoring_func");
  m.erase("use_routing_bias");
  ModelConfig c = parse(m);
  EXPECT_EQ(c.family, "minimax");
  EXPECT_EQ(c.scoring, ScoringFunc::softmax);
  EXPECT_FALSE(c.score_correction_bias);
}

TEST(HfConfig, ParseNamesTheOrigin) {
  ModelConfig c = parse_hf_config(family_json("mixtral").dump(), "/models/mixtral/config.json");
  EXPECT_EQ(c.name, "/models/mixtral/config.json");
}

// ---------------------------------------------------------------------------------------------
// Bad input: one InputError line naming the file, the field and the fix

TEST(HfConfigErrors, MissingPath) {
  expect_input_error([] { load_hf_config("/nonexistent/moebench/model"); },
                     {"--model-path /nonexistent/moebench/model: no config.json found (",
                      "does not exist", "--model"});
  // A Hugging Face repository id is not fetched.
  expect_input_error([] { load_hf_config("Qwen/Qwen1.5-MoE-A2.7B-no-such-local-dir"); },
                     {"no config.json found", "local files only"});
}

TEST(HfConfigErrors, DirectoryWithoutConfigJson) {
  TempDir dir("empty");
  expect_input_error([&] { load_hf_config(dir.path.string()); },
                     {"--model-path " + dir.path.string() + ": no config.json found", "holds no config.json"});
  fs::create_directories(dir.path / "config.json");  // a directory named config.json
  expect_input_error([&] { load_hf_config(dir.path.string()); }, {"is not a regular file"});
}

TEST(HfConfigErrors, MalformedJson) {
  expect_input_error([] { parse_hf_config("{\"model_type\": \"mixtral\",\n  \"hidden_size\": 4096,,}", "config.json"); },
                     {"config.json: not valid JSON at line 2, column 23: syntax error"});
  expect_input_error([] { parse_hf_config("", "config.json"); }, {"config.json: not valid JSON at line 1, column 1"});
  expect_input_error([] { parse_hf_config("{\"hidden_size\": 4096", "config.json"); },
                     {"config.json: not valid JSON at line 1, column 21: syntax error while parsing object - unexpected end of input"});
  expect_input_error([] { parse_hf_config("[1, 2]", "config.json"); },
                     {"config.json: expected a JSON object {...} at the top level (got array)"});
  // Deep nesting is an error, not a stack overflow.
  std::string deep(200000, '[');
  expect_input_error([&] { parse_hf_config(deep, "config.json"); }, {"not valid JSON"});
  expect_input_error([&] { parse_hf_config(deep + std::string(200000, ']'), "config.json"); },
                     {"expected a JSON object"});

  // Through load_hf_config the message names the file that was read.
  TempDir dir("malformed");
  dir.write("config.json", "{\"model_type\": \"mixtral\", \"hidden_size\": 4096,,}");
  std::string file = (dir.path / "config.json").string();
  expect_input_error([&] { load_hf_config(dir.path.string()); }, {file + ": not valid JSON at line 1, column"});
}

TEST(HfConfigErrors, ConfigTooLarge) {
  TempDir dir("large");
  std::ofstream(dir.path / "model.safetensors") << std::string((16u << 20) + 1, 'x');
  expect_input_error([&] { load_hf_config((dir.path / "model.safetensors").string()); },
                     {"too large for a config.json"});
}

// A config is an MoE config by its fields, whatever its model_type (or none): refused only when
// an MoE field is missing, and then that field is named.
TEST(HfConfigErrors, ModelTypeOnlyPicksAFamilyReader) {
  json doc = family_json("mixtral");
  doc.erase("model_type");
  ModelConfig untyped = parse(doc);
  EXPECT_EQ(untyped.num_experts, 8);
  EXPECT_EQ(untyped.family, "unknown");
  doc["model_type"] = "llama";
  EXPECT_EQ(parse(doc).num_experts, 8);
  doc.erase("num_local_experts");
  expect_parse_error(doc, {"config.json: missing field \"num_experts\" (or \"num_local_experts\" or "
                           "\"n_routed_experts\")"});
  doc["model_type"] = 3;
  expect_parse_error(doc, {"config.json: field \"model_type\" must be a string (got 3)"});
}

// The field each family needs, as the family names it.
struct MissingField {
  const char* family;
  std::vector<const char*> erase;
  const char* message;
};

TEST(HfConfigErrors, MissingRequiredFieldPerFamily) {
  const MissingField cases[] = {
      {"qwen2_moe", {"num_experts"}, "missing field \"num_experts\" (or \"num_local_experts\")"},
      {"qwen2_moe", {"moe_intermediate_size"}, "missing field \"moe_intermediate_size\""},
      {"qwen3_moe", {"num_experts"}, "missing field \"num_experts\" (or \"num_local_experts\")"},
      {"qwen3_moe", {"num_experts_per_tok"}, "missing field \"num_experts_per_tok\""},
      {"mixtral", {"num_local_experts"}, "missing field \"num_local_experts\" (or \"num_experts\")"},
      {"mixtral", {"intermediate_size"}, "missing field \"intermediate_size\" (or \"moe_intermediate_size\")"},
      {"deepseek_v2", {"n_routed_experts"}, "missing field \"n_routed_experts\" (or \"num_experts\")"},
      {"deepseek_v2", {"kv_lora_rank"}, "missing field \"kv_lora_rank\""},
      {"deepseek_v3", {"n_routed_experts"}, "missing field \"n_routed_experts\" (or \"num_experts\")"},
      {"kimi_k2", {"moe_intermediate_size"}, "missing field \"moe_intermediate_size\""},
      {"kimi_k2", {"qk_rope_head_dim"}, "missing field \"qk_rope_head_dim\""},
      {"glm4_moe", {"n_routed_experts"}, "missing field \"n_routed_experts\" (or \"num_experts\")"},
      {"glm4_moe", {"moe_intermediate_size"}, "missing field \"moe_intermediate_size\""},
      {"minimax_m2", {"num_local_experts"}, "missing field \"num_local_experts\" (or \"num_experts\")"},
      {"minimax_m2", {"intermediate_size"}, "missing field \"intermediate_size\" (or \"moe_intermediate_size\")"},
      {"gpt_oss", {"num_local_experts"}, "missing field \"num_local_experts\" (or \"num_experts\")"},
      {"gpt_oss",
       {"experts_per_token", "num_experts_per_tok"},
       "missing field \"experts_per_token\" (or \"num_experts_per_tok\")"},
      // hidden_size is the layer's too.
      {"mixtral", {"hidden_size"}, "missing field \"hidden_size\""},
  };
  for (const MissingField& m : cases) {
    SCOPED_TRACE(std::string(m.family) + " without " + m.erase.front());
    json doc = family_json(m.family);
    for (const char* key : m.erase) doc.erase(key);
    expect_parse_error(doc, {std::string("config.json: ") + m.message});
  }
  // Fields only `model` and `memory` need: the config loads (the layer has all it needs), and
  // the whole-model check names the field.
  const MissingField decoder_cases[] = {
      {"qwen3_moe", {"num_attention_heads"}, "missing field \"num_attention_heads\""},
      {"deepseek_v3", {"num_hidden_layers"}, "missing field \"num_hidden_layers\""},
      {"glm4_moe", {"vocab_size"}, "missing field \"vocab_size\""},
      {"minimax_m2", {"max_position_embeddings"}, "missing field \"max_position_embeddings\""},
      {"deepseek_v3", {"intermediate_size"}, "missing field \"intermediate_size\" (the width of the dense MLP"},
  };
  for (const MissingField& m : decoder_cases) {
    SCOPED_TRACE(std::string(m.family) + " without " + m.erase.front());
    json doc = family_json(m.family);
    for (const char* key : m.erase) doc.erase(key);
    ModelConfig c = parse(doc);
    expect_input_error([&] { c.validate(/*layer_only=*/false); }, {std::string("config.json: ") + m.message});
  }
  // Through load_hf_config: the file path leads the message.
  TempDir dir("missing-field");
  json doc = family_json("qwen3_moe");
  doc.erase("num_experts");
  dir.write("config.json", doc.dump());
  expect_input_error([&] { load_hf_config(dir.path.string()); },
                     {(dir.path / "config.json").string() + ": missing field \"num_experts\""});
}

TEST(HfConfigErrors, WrongTypes) {
  struct Case {
    const char* family;
    const char* key;
    json value;
    const char* message;
  };
  const Case cases[] = {
      {"qwen3_moe", "hidden_size", "abc", "field \"hidden_size\" must be a positive integer (got \"abc\")"},
      {"qwen3_moe", "hidden_size", 4096.5, "field \"hidden_size\" must be a positive integer (got 4096.5)"},
      {"qwen3_moe", "hidden_size", nullptr, "field \"hidden_size\" must be a positive integer (got null)"},
      {"qwen3_moe", "hidden_size", true, "field \"hidden_size\" must be a positive integer (got true)"},
      {"qwen3_moe", "hidden_size", 1e20, "field \"hidden_size\" must be a positive integer (got 1e+20)"},
      {"qwen3_moe", "hidden_size", json::array({4096}), "field \"hidden_size\" must be a positive integer (got [4096])"},
      {"qwen3_moe", "num_experts", "128", "field \"num_experts\" must be a positive integer (got \"128\")"},
      {"qwen3_moe", "norm_topk_prob", "yes", "field \"norm_topk_prob\" must be true or false (got \"yes\")"},
      {"qwen3_moe", "rope_theta", "big", "field \"rope_theta\" must be a positive number (got \"big\")"},
      {"qwen3_moe", "rms_norm_eps", 0, "field \"rms_norm_eps\" must be a positive number (got 0)"},
      {"qwen3_moe", "hidden_act", 5, "field \"hidden_act\" must be a string (got 5)"},
      {"qwen3_moe", "hidden_act", "relu", "field \"hidden_act\" must be silu, gelu or swigluoai (got \"relu\")"},
      {"qwen3_moe", "torch_dtype", "int4", "field \"torch_dtype\" must be bfloat16, float16 or float32 (got \"int4\")"},
      {"qwen3_moe", "mlp_only_layers", "none", "field \"mlp_only_layers\" must be a list of non-negative integers"},
      {"qwen3_moe", "quantization_config", "fp8", "field \"quantization_config\" must be an object {...} (got \"fp8\")"},
      {"qwen3_moe", "rope_parameters", 5, "field \"rope_parameters\" must be an object {...} (got 5)"},
      {"deepseek_v3", "scoring_func", "tanh", "field \"scoring_func\" must be \"softmax\" or \"sigmoid\" (got \"tanh\")"},
      {"deepseek_v3", "topk_method", "best", "field \"topk_method\" must be \"greedy\", \"group_limited_greedy\" or"},
      {"deepseek_v3", "n_shared_experts", -1, "field \"n_shared_experts\" must be a non-negative integer (got -1)"},
      {"deepseek_v3", "q_lora_rank", "none", "field \"q_lora_rank\" must be a non-negative integer (got \"none\")"},
      {"kimi_k2", "routed_scaling_factor", -2.5, "field \"routed_scaling_factor\" must be a positive number (got -2.5)"},
      {"minimax_m2", "use_routing_bias", 1, "field \"use_routing_bias\" must be true or false (got 1)"},
      {"glm4_moe", "use_qk_norm", "true", "field \"use_qk_norm\" must be true or false (got \"true\")"},
      {"gpt_oss", "experts_per_token", 4.5, "field \"experts_per_token\" must be a positive integer (got 4.5)"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(std::string(k.family) + "." + k.key);
    json doc = family_json(k.family);
    doc[k.key] = k.value;
    expect_parse_error(doc, {std::string("config.json: ") + k.message});
  }
  json nested = family_json("deepseek_v3");
  nested["quantization_config"] = {{"quant_method", 8}};
  expect_parse_error(nested, {"field \"quantization_config.quant_method\" must be a string (got 8)"});
}

TEST(HfConfigErrors, ZeroAndNegativeSizes) {
  struct Case {
    const char* family;
    const char* key;
    int value;
  };
  const Case cases[] = {
      {"qwen3_moe", "hidden_size", 0},         {"qwen3_moe", "moe_intermediate_size", -768},
      {"qwen3_moe", "num_experts", 0},         {"qwen3_moe", "num_experts_per_tok", -1},
      {"mixtral", "intermediate_size", 0},     {"mixtral", "num_hidden_layers", 0},
      {"deepseek_v3", "kv_lora_rank", 0},      {"glm4_moe", "head_dim", -128},
      {"gpt_oss", "num_key_value_heads", 0},   {"minimax_m2", "vocab_size", -1},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(std::string(k.family) + "." + k.key);
    json doc = family_json(k.family);
    doc[k.key] = k.value;
    expect_parse_error(doc, {std::string("config.json: field \"") + k.key + "\" must be a positive integer (got " +
                             std::to_string(k.value) + ")"});
  }
}

TEST(HfConfigErrors, InconsistentRouting) {
  json q = family_json("qwen3_moe");
  q["num_experts_per_tok"] = 200;
  expect_parse_error(q, {"config.json: top_k (200) exceeds num_experts (128)"});

  json d = family_json("deepseek_v3");  // 64 experts
  d["n_group"] = 5;
  expect_parse_error(d, {"config.json: num_experts (64) must be divisible by n_group (5)"});
  d["n_group"] = 8;
  d["topk_group"] = 9;
  expect_parse_error(d, {"config.json: topk_group (9) exceeds n_group (8)"});
  d["topk_group"] = 0;
  expect_parse_error(d, {"config.json: field \"topk_group\" must be a positive integer (got 0)"});

  // The decoder stack's consistency: checked where `model` and `memory` need it.
  json k = family_json("kimi_k2");
  k["first_k_dense_replace"] = 99;
  expect_input_error([&] { parse(k).validate(/*layer_only=*/false); },
                     {"config.json: first_k_dense_replace (99) must be within 0..num_hidden_layers (61)"});

  json g = family_json("glm4_moe");
  g["num_key_value_heads"] = 7;
  expect_input_error([&] { parse(g).validate(/*layer_only=*/false); },
                     {"config.json: num_attention_heads (96) must be divisible by num_key_value_heads (7)"});
}

TEST(HfConfigErrors, LayoutsMoebenchCannotModel) {
  json q = family_json("qwen2_moe");
  q["decoder_sparse_step"] = 2;
  expect_parse_error(q, {"config.json: field \"decoder_sparse_step\" is 2: moebench supports only 1"});
  q["decoder_sparse_step"] = 1;
  q["mlp_only_layers"] = {3, 5};
  expect_parse_error(q, {"config.json: field \"mlp_only_layers\" must list leading layers 0, 1, ..., k-1"});

  json d = family_json("deepseek_v2");
  d["moe_layer_freq"] = 2;
  expect_parse_error(d, {"config.json: field \"moe_layer_freq\" is 2: moebench supports only 1"});

  // No head_dim, and hidden_size does not divide into the heads (GLM-4.5-Air: 4096 / 96).
  json g = family_json("glm4_moe");
  g.erase("head_dim");
  expect_parse_error(g, {"config.json: missing field \"head_dim\" (hidden_size 4096 is not a multiple of "
                         "num_attention_heads 96)"});
}

TEST(HfConfigErrors, MoebenchSection) {
  json doc = family_json("mixtral");
  doc["_moebench"] = {{"description", "x"}, {"batch_size", 16}, {"seq_len", 256}, {"source", "y"}};
  EXPECT_NO_THROW(parse(doc));
  doc["_moebench"]["batch_size"] = "sixteen";
  expect_parse_error(doc, {"config.json: field \"_moebench.batch_size\" must be a positive integer (got \"sixteen\")"});
  doc["_moebench"]["batch_size"] = 16;
  doc["_moebench"]["seqlen"] = 256;
  expect_parse_error(doc, {"config.json: unknown field \"_moebench.seqlen\": use description, source, batch_size"});
  doc["_moebench"] = "about";
  expect_parse_error(doc, {"config.json: field \"_moebench\" must be an object {...} (got \"about\")"});
}

}  // namespace
