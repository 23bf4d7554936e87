#pragma once
/// `std::visit(overloaded{[](const a&) {...}, [](const b&) {...}}, v)`: one lambda per
/// alternative. Without a generic lambda among them, an alternative added to the variant and
/// not handled fails to compile.

namespace vigil {

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;  // C++20 deduces this for aggregates; Clang 14 does not yet

}  // namespace vigil
