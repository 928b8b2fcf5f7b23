// Module initialisation: each area's Init registers its functions and constants on the
// addon's exports (addon.cc calls them all).
#pragma once
#include <napi.h>

#include <initializer_list>

namespace posixfork {

void InitFork(Napi::Env env, Napi::Object exports);
void InitChildRuntime(Napi::Env env, Napi::Object exports);
void InitPageMarks(Napi::Env env, Napi::Object exports);
void InitWait(Napi::Env env, Napi::Object exports);
void InitSession(Napi::Env env, Napi::Object exports);
void InitFds(Napi::Env env, Napi::Object exports);
void InitFdPassing(Napi::Env env, Napi::Object exports);
void InitExec(Napi::Env env, Napi::Object exports);
void InitSigchld(Napi::Env env, Napi::Object exports);
void InitSiginfo(Napi::Env env, Napi::Object exports);
void InitSignalReset(Napi::Env env, Napi::Object exports);
void InitDaemon(Napi::Env env, Napi::Object exports);

using NativeFunction = Napi::Value (*)(const Napi::CallbackInfo&);

struct NamedFunction {
  const char* name;
  NativeFunction function;
};

// Sets exports[name] to a JS function of that name for each entry.
inline void ExportFunctions(Napi::Env env, Napi::Object exports,
                            std::initializer_list<NamedFunction> functions) {
  for (const NamedFunction& entry : functions) {
    exports.Set(entry.name, Napi::Function::New(env, entry.function, entry.name));
  }
}

// Sets exports[name] to an object of integer constants.
struct NamedConstant {
  const char* name;
  int value;
};

inline void ExportConstants(Napi::Env env, Napi::Object exports, const char* name,
                            std::initializer_list<NamedConstant> constants) {
  Napi::Object object = Napi::Object::New(env);
  for (const NamedConstant& entry : constants) {
    object.Set(entry.name, Napi::Number::New(env, entry.value));
  }
  exports.Set(name, object);
}

}  // namespace posixfork
