// errno -> the Error Node throws for a failed system call.
#pragma once
#include <napi.h>

namespace posixfork {

// Throws Error{ code: 'ECHILD', errno: -10, syscall: 'waitpid' } with the message
// "waitpid ECHILD (No child processes)". Returns an empty value to return from the caller.
Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall);

}  // namespace posixfork
