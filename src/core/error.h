// Error and Result: how expected failures travel between layers.
//
// Not-found, conflict, validation failures and an unavailable store are
// values, never exceptions: a function that can fail that way returns
// Result<T>. Bugs are asserts. Library exceptions (SQLiteCpp, nlohmann) are
// caught at the store boundary and in the one top-level HTTP handler and
// turned into an Error whose message an operator can read.
//
// Thread-safety: plain values; copy freely.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace lsh {

enum class ErrorKind {
  kInvalid,       // 400: malformed or invalid input
  kUnauthorized,  // 401
  kNotFound,      // 404
  kMethod,        // 405
  kConflict,      // 409: duplicate name, idempotency key reuse, active run
  kTooLarge,      // 413
  kUnavailable,   // 503: store cannot write, shutting down, disk full
  kInternal,      // 500: a bug or an unexpected library failure
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string code;     // snake_case, stable: "validation_failed", "job_not_found"
  std::string message;  // a sentence an operator understands
  std::string field;    // JSON path of the field at fault, when one is

  static Error Invalid(std::string message, std::string field = {},
                       std::string code = "validation_failed") {
    return {ErrorKind::kInvalid, std::move(code), std::move(message), std::move(field)};
  }
  static Error NotFound(std::string message, std::string code = "not_found") {
    return {ErrorKind::kNotFound, std::move(code), std::move(message), {}};
  }
  static Error Conflict(std::string message, std::string code = "conflict") {
    return {ErrorKind::kConflict, std::move(code), std::move(message), {}};
  }
  static Error Unavailable(std::string message, std::string code = "unavailable") {
    return {ErrorKind::kUnavailable, std::move(code), std::move(message), {}};
  }
  static Error Internal(std::string message) {
    return {ErrorKind::kInternal, "internal_error", std::move(message), {}};
  }
};

// Result<T> holds a T or an Error. Result<void> is spelled Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT
  static Status Ok() { return {}; }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace lsh
