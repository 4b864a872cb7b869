// Running simulated code on a fiber without letting an exception escape it.
// Nothing may leave a fiber's entry function; Boost.Context's own
// forced_unwind (a fiber being destroyed) must pass through untouched; and
// no fiber switch may happen inside a catch block, so the caller reports
// after this returns.
#ifndef STRATA_MACHINE_ESCAPE_H_
#define STRATA_MACHINE_ESCAPE_H_

#include <exception>
#include <optional>
#include <string>

#include <boost/context/fiber.hpp>

namespace strata::machine {

// Runs f(); returns what an exception that escaped it said, or nullopt.
template <class F>
std::optional<std::string> Escaped(F&& f) {
  try {
    f();
  } catch (const boost::context::detail::forced_unwind&) {
    throw;  // the fiber is being destroyed: let Boost.Context unwind it
  } catch (const std::exception& e) {
    return std::string(e.what());
  } catch (...) {
    return std::string("an exception not derived from std::exception");
  }
  return std::nullopt;
}

}  // namespace strata::machine

#endif  // STRATA_MACHINE_ESCAPE_H_
