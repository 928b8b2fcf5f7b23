#include "loop_util.h"

namespace posixfork {

void CallFromLoop(napi_env env, napi_async_context context, napi_ref callback, size_t argc,
                  const napi_value* argv) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value function = nullptr, global, result;
  napi_get_reference_value(env, callback, &function);
  // The receiver must be an object: undefined makes napi_make_callback fail.
  napi_get_global(env, &global);
  if (function != nullptr &&
      napi_make_callback(env, context, global, function, argc, argv, &result) ==
          napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

}  // namespace posixfork
