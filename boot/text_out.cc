#include "boot/text_out.h"

#include "machine/check.h"

namespace strata::boot {

TextOut::TextOut(std::FILE* out, bool silent) : file_(out), owned_(silent) {
  if (!silent) return;
  file_ = std::fopen("/dev/null", "w");
  STRATA_CHECK(file_ != nullptr, "cannot open /dev/null");
}

TextOut::~TextOut() {
  if (owned_) std::fclose(file_);
}

}  // namespace strata::boot
