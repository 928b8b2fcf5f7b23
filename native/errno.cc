#include "errno.h"

#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace posixfork {

// The errno name, as Node's own errors spell it. libuv names every errno it maps; the few
// that our calls can return and libuv does not map are named here.
static std::string ErrnoName(int err) {
  switch (err) {
    case ECHILD:
      return "ECHILD";
    case ENOEXEC:
      return "ENOEXEC";
    case EDEADLK:
      return "EDEADLK";
    case ENOLCK:
      return "ENOLCK";
    default: {
      char name[64];
      return uv_err_name_r(-err, name, sizeof name);
    }
  }
}

Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall) {
  std::string code = ErrnoName(err);
  std::string message = std::string(syscall) + " " + code + " (" + std::strerror(err) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
  return Napi::Value();
}

}  // namespace posixfork
