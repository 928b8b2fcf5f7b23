// Each area registers its functions on the addon's exports.
#pragma once
#include <napi.h>

namespace posixfork {
void InitFork(Napi::Env env, Napi::Object exports);
void InitWait(Napi::Env env, Napi::Object exports);
void InitSession(Napi::Env env, Napi::Object exports);
void InitFds(Napi::Env env, Napi::Object exports);
void InitExec(Napi::Env env, Napi::Object exports);
void InitSigchld(Napi::Env env, Napi::Object exports);
void InitSiginfo(Napi::Env env, Napi::Object exports);
void InitDaemon(Napi::Env env, Napi::Object exports);
}  // namespace posixfork
