#include "sweep/sweep_progress.hpp"

#include <fmt/format.h>

namespace moebench {

namespace {

constexpr int kBarWidth = 20;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::string format_duration(double seconds) {
  const long s = seconds > 0 ? long(seconds + 0.5) : 0;
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

SweepProgress::SweepProgress(int total, bool terminal, std::FILE* out)
    : total_(total), terminal_(terminal), out_(out) {}

std::string SweepProgress::eta() const {
  if (done_ == 0) return "?";
  return format_duration(seconds_since(start_) / done_ * (total_ - done_));
}

void SweepProgress::draw(const std::string& key) {
  const int filled = total_ ? done_ * kBarWidth / total_ : kBarWidth;
  fmt::print(out_, "\r\033[K[{}{}] {}/{} {:3}% ETA {} ok {} failed {} now: {}", std::string(size_t(filled), '#'),
             std::string(size_t(kBarWidth - filled), '-'), done_, total_, total_ ? done_ * 100 / total_ : 100, eta(),
             ok_, failed_, key);
  std::fflush(out_);
}

void SweepProgress::begin(int index, const std::string& key) {
  config_start_ = std::chrono::steady_clock::now();
  if (!out_) return;
  if (terminal_) draw(key);
  else fmt::print(out_, "[{}/{}] running {}\n", index + 1, total_, key);
}

void SweepProgress::end(int index, const std::string& key, bool ok, const std::string& note) {
  ++done_;
  (ok ? ok_ : failed_) += 1;
  const double took = seconds_since(config_start_);
  if (!out_) return;
  if (terminal_) {
    if (!ok) fmt::print(out_, "\r\033[Kfailed {} ({:.1f} s): {}\n", key, took, note);
    draw(key);
  } else {
    fmt::print(out_, "[{}/{}] {} {} ({:.1f} s){} ETA {}\n", index + 1, total_, ok ? "ok" : "FAILED", key, took,
               ok ? "" : ": " + note, eta());
  }
}

void SweepProgress::finish() {
  if (!out_) return;
  const std::string summary = fmt::format("sweep: {} configs, {} ok, {} failed, in {}", total_, ok_, failed_,
                                          format_duration(seconds_since(start_)));
  fmt::print(out_, "{}{}\n", terminal_ ? "\r\033[K" : "", summary);
}

}  // namespace moebench
