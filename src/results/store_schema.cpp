// The results store's migrations, oldest first, and the renames of migration 2 applied in memory
// for readers of an older store (results/store_schema.hpp).
#include "results/store_schema.hpp"

namespace moebench {

const std::vector<const char*>& store_migrations() {
  static const std::vector<const char*> migrations = {
      // 1: one table of runs. AUTOINCREMENT: a deleted id is never given to another run, so an
      // id quoted in a report keeps naming the same run or none.
      R"sql(
        CREATE TABLE runs (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          kind TEXT NOT NULL,
          model TEXT NOT NULL,
          config TEXT NOT NULL,
          status TEXT NOT NULL CHECK (status IN ('success', 'failure')),
          error_type TEXT NOT NULL,
          error_message TEXT NOT NULL,
          params TEXT NOT NULL,
          metrics TEXT NOT NULL,
          details TEXT NOT NULL,
          host TEXT NOT NULL,
          backend TEXT NOT NULL,
          device TEXT NOT NULL,
          driver_version TEXT NOT NULL,
          cuda_version TEXT NOT NULL,
          moebench_version TEXT NOT NULL,
          git_revision TEXT NOT NULL,
          command_line TEXT NOT NULL,
          group_id TEXT NOT NULL,
          started_at TEXT NOT NULL,
          finished_at TEXT NOT NULL
        );
        CREATE INDEX runs_by_key ON runs (model, config, status);
        CREATE INDEX runs_by_group ON runs (group_id);
      )sql",
      // 2: one name per metric everywhere (README.md, "Metrics"): SGLang's bench_serving names
      // for the model figures, and the layer's verification error as its CSV column names it.
      // The stored JSON is compact ("name":value), so a quoted key followed by its colon is
      // matched exactly and the keys keep their order. Details are left as they were written.
      R"sql(
        UPDATE runs SET metrics =
          replace(replace(replace(replace(replace(replace(replace(replace(metrics,
            '"itl_ms":', '"mean_itl_ms":'),
            '"itl_p50_ms":', '"median_itl_ms":'),
            '"itl_p99_ms":', '"p99_itl_ms":'),
            '"ttft_ms":', '"mean_ttft_ms":'),
            '"ttft_std_ms":', '"std_ttft_ms":'),
            '"tpot_ms":', '"mean_tpot_ms":'),
            '"tpot_std_ms":', '"std_tpot_ms":'),
            '"verify_error":', '"verify_rel_error":')
        WHERE kind IN ('layer', 'model');
      )sql",
  };
  return migrations;
}

const std::vector<std::pair<std::string, std::string>>& metric_renames_of_migration_2() {
  static const std::vector<std::pair<std::string, std::string>> renames = {
      {"itl_ms", "mean_itl_ms"},   {"itl_p50_ms", "median_itl_ms"}, {"itl_p99_ms", "p99_itl_ms"},
      {"ttft_ms", "mean_ttft_ms"}, {"ttft_std_ms", "std_ttft_ms"},  {"tpot_ms", "mean_tpot_ms"},
      {"tpot_std_ms", "std_tpot_ms"}, {"verify_error", "verify_rel_error"},
  };
  return renames;
}

nlohmann::ordered_json metrics_at_current_schema(const nlohmann::ordered_json& metrics, const std::string& kind,
                                                 int schema_version) {
  if (schema_version >= 2 || (kind != "layer" && kind != "model") || !metrics.is_object()) return metrics;
  nlohmann::ordered_json renamed = nlohmann::ordered_json::object();
  for (const auto& [key, value] : metrics.items()) {
    std::string name = key;
    for (const auto& [from, to] : metric_renames_of_migration_2())
      if (key == from) name = to;
    renamed[name] = value;
  }
  return renamed;
}

}  // namespace moebench
