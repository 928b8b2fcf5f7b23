#include "errors.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

namespace posixfork {

const char* ErrnoName(int err) {
  switch (err) {
#define POSIX_FORK_ERRNO(name) \
  case name:                   \
    return #name;
    POSIX_FORK_ERRNO(EPERM) POSIX_FORK_ERRNO(ENOENT) POSIX_FORK_ERRNO(ESRCH)
    POSIX_FORK_ERRNO(EINTR) POSIX_FORK_ERRNO(EIO) POSIX_FORK_ERRNO(ENXIO)
    POSIX_FORK_ERRNO(E2BIG) POSIX_FORK_ERRNO(ENOEXEC) POSIX_FORK_ERRNO(EBADF)
    POSIX_FORK_ERRNO(ECHILD) POSIX_FORK_ERRNO(EAGAIN) POSIX_FORK_ERRNO(ENOMEM)
    POSIX_FORK_ERRNO(EACCES) POSIX_FORK_ERRNO(EFAULT) POSIX_FORK_ERRNO(EBUSY)
    POSIX_FORK_ERRNO(EEXIST) POSIX_FORK_ERRNO(EXDEV) POSIX_FORK_ERRNO(ENODEV)
    POSIX_FORK_ERRNO(ENOTDIR) POSIX_FORK_ERRNO(EISDIR) POSIX_FORK_ERRNO(EINVAL)
    POSIX_FORK_ERRNO(ENFILE) POSIX_FORK_ERRNO(EMFILE) POSIX_FORK_ERRNO(ENOTTY)
    POSIX_FORK_ERRNO(ETXTBSY) POSIX_FORK_ERRNO(EFBIG) POSIX_FORK_ERRNO(ENOSPC)
    POSIX_FORK_ERRNO(ESPIPE) POSIX_FORK_ERRNO(EROFS) POSIX_FORK_ERRNO(EMLINK)
    POSIX_FORK_ERRNO(EPIPE) POSIX_FORK_ERRNO(ERANGE) POSIX_FORK_ERRNO(EDEADLK)
    POSIX_FORK_ERRNO(ENAMETOOLONG) POSIX_FORK_ERRNO(ENOLCK) POSIX_FORK_ERRNO(ENOSYS)
    POSIX_FORK_ERRNO(ENOTEMPTY) POSIX_FORK_ERRNO(ELOOP) POSIX_FORK_ERRNO(EOVERFLOW)
    POSIX_FORK_ERRNO(ENOTSUP) POSIX_FORK_ERRNO(ETIMEDOUT) POSIX_FORK_ERRNO(ECONNREFUSED)
    POSIX_FORK_ERRNO(EADDRINUSE) POSIX_FORK_ERRNO(ENOTSOCK) POSIX_FORK_ERRNO(ECONNRESET)
#undef POSIX_FORK_ERRNO
    default:
      return "UNKNOWN";
  }
}

Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall) {
  const char* code = ErrnoName(err);
  std::string message = std::string(syscall) + " " + code + " (" + std::strerror(err) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
  return Napi::Value();
}

static Napi::Value ThrowWithCode(Napi::Error error, const char* code) {
  error.Set("code", Napi::String::New(error.Env(), code));
  error.ThrowAsJavaScriptException();
  return Napi::Value();
}

Napi::Value ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  return ThrowWithCode(Napi::TypeError::New(env, message), code);
}

Napi::Value ThrowRangeError(Napi::Env env, const char* code, const std::string& message) {
  return ThrowWithCode(Napi::RangeError::New(env, message), code);
}

// "Received type string ('abc')" in the spirit of Node's ERR_INVALID_ARG_TYPE.
static std::string Describe(const Napi::Value& value) {
  switch (value.Type()) {
    case napi_undefined:
      return "Received undefined";
    case napi_null:
      return "Received null";
    case napi_boolean:
      return std::string("Received type boolean (") +
             (value.As<Napi::Boolean>().Value() ? "true" : "false") + ")";
    case napi_number:
      return "Received " + value.ToString().Utf8Value();
    case napi_string: {
      std::string s = value.As<Napi::String>().Utf8Value();
      if (s.size() > 28) s = s.substr(0, 25) + "...";
      return "Received type string ('" + s + "')";
    }
    case napi_symbol:
      return "Received type symbol";
    case napi_bigint:
      return "Received type bigint";
    case napi_function:
      return "Received function";
    default:
      return "Received an instance of Object";
  }
}

bool CheckArity(const Napi::CallbackInfo& info, size_t min, size_t max) {
  if (info.Length() < min) {
    ThrowTypeError(info.Env(), "ERR_MISSING_ARGS",
                   "Expected at least " + std::to_string(min) + " argument(s), received " +
                       std::to_string(info.Length()));
    return false;
  }
  if (info.Length() > max) {
    ThrowTypeError(info.Env(), "ERR_TOO_MANY_ARGS",
                   "Expected at most " + std::to_string(max) + " argument(s), received " +
                       std::to_string(info.Length()));
    return false;
  }
  return true;
}

bool IntArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
            int64_t max, int64_t* out) {
  Napi::Value value = info[index];
  if (!value.IsNumber()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be of type number. " +
                       Describe(value));
    return false;
  }
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || d < static_cast<double>(min) ||
      d > static_cast<double>(max)) {
    ThrowRangeError(info.Env(), "ERR_OUT_OF_RANGE",
                    std::string("The value of \"") + name +
                        "\" is out of range. It must be an integer >= " + std::to_string(min) +
                        " and <= " + std::to_string(max) + ". " + Describe(value));
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool OptionalIntArg(const Napi::CallbackInfo& info, size_t index, const char* name,
                    int64_t fallback, int64_t min, int64_t max, int64_t* out) {
  if (info.Length() <= index || info[index].IsUndefined()) {
    *out = fallback;
    return true;
  }
  return IntArg(info, index, name, min, max, out);
}

bool FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info[index].IsFunction()) return true;
  ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                 std::string("The \"") + name + "\" argument must be of type function. " +
                     Describe(info[index]));
  return false;
}

bool BytesArg(const Napi::CallbackInfo& info, size_t index, const char* name,
              Napi::Uint8Array* out) {
  if (info[index].IsTypedArray() &&
      info[index].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    *out = info[index].As<Napi::Uint8Array>();
    return true;
  }
  ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                 std::string("The \"") + name +
                     "\" argument must be an instance of Buffer or Uint8Array. " +
                     Describe(info[index]));
  return false;
}

bool StringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out) {
  if (!info[index].IsString()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be of type string. " +
                       Describe(info[index]));
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_VALUE",
                   std::string("The \"") + name + "\" argument must not contain null bytes");
    return false;
  }
  return true;
}

bool StringArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name,
                    std::vector<std::string>* out) {
  if (!info[index].IsArray()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string("The \"") + name + "\" argument must be an array of strings");
    return false;
  }
  Napi::Array array = info[index].As<Napi::Array>();
  // The length is read once: a getter that grows the array cannot keep the loop going.
  const uint32_t length = array.Length();
  for (uint32_t i = 0; i < length; i++) {
    Napi::Value item = array.Get(i);
    if (item.IsEmpty()) return false;  // an element getter threw: its exception is pending
    if (!item.IsString()) {
      ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                     std::string("The \"") + name + "\" argument must be an array of strings");
      return false;
    }
    std::string s = item.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) {
      ThrowTypeError(info.Env(), "ERR_INVALID_ARG_VALUE",
                     std::string("The \"") + name + "\" argument must not contain null bytes");
      return false;
    }
    out->push_back(std::move(s));
  }
  return true;
}

}  // namespace posixfork
