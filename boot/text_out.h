// Where a command's text summary goes: to its output, or nowhere when the
// command prints one JSON result instead (--json), so the text and the JSON
// are made by the same code path and stdout holds exactly one of them.
#ifndef STRATA_BOOT_TEXT_OUT_H_
#define STRATA_BOOT_TEXT_OUT_H_

#include <cstdio>

namespace strata::boot {

class TextOut {
 public:
  // `out` when `silent` is false; a sink that drops everything when true.
  TextOut(std::FILE* out, bool silent);
  ~TextOut();
  TextOut(const TextOut&) = delete;
  TextOut& operator=(const TextOut&) = delete;

  std::FILE* get() const { return file_; }

 private:
  std::FILE* file_;
  bool owned_;
};

}  // namespace strata::boot

#endif  // STRATA_BOOT_TEXT_OUT_H_
