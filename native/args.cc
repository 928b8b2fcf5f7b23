#include "args.h"

#include <cmath>
#include <string>

namespace posixfork {

namespace {

constexpr size_t kMaxShownString = 28;

// Messages that quote a value are built in UTF-16, as JS strings are, so that whatever the
// value holds (a lone surrogate where a cut splits a pair) reaches the message unchanged.
using Text = std::u16string;

Text ToText(Napi::Env env, const std::string& utf8) {
  return Napi::String::New(env, utf8).Utf16Value();
}

// String(value), as JS computes it (a symbol gives "Symbol(x)"). False with the exception
// pending when that throws.
bool JsString(Napi::Env env, const Napi::Value& value, Text* out) {
  Napi::Value string_function = env.Global().Get("String");
  if (string_function.IsEmpty()) return false;
  Napi::Value result = string_function.IsFunction()
                           ? string_function.As<Napi::Function>().Call({value})
                           : value.ToString();
  if (result.IsEmpty()) return false;
  *out = result.As<Napi::String>().Utf16Value();
  return true;
}

// `object[key] || fallback`, as a string. False with the exception pending when a getter throws.
bool NameProperty(Napi::Env env, const Napi::Value& object, const char* key,
                  const char16_t* fallback, Text* out) {
  Napi::Value name = object.As<Napi::Object>().Get(key);
  if (name.IsEmpty()) return false;
  if (!name.ToBoolean().Value()) {
    *out = fallback;
    return true;
  }
  return JsString(env, name, out);
}

// The tail of Node's ERR_INVALID_ARG_TYPE message, word for word as describeReceived() in
// src/args.ts writes it: "Received null", "Received function f", "Received an instance of
// Date", "Received type string ('abc')", "Received type bigint (5n)", "Received type number (5)".
bool DescribeReceived(Napi::Env env, const Napi::Value& value, Text* out) {
  Text text;
  switch (value.Type()) {
    case napi_undefined:
      *out = u"Received undefined";
      return true;
    case napi_null:
      *out = u"Received null";
      return true;
    case napi_function:
      if (!NameProperty(env, value, "name", u"<anonymous>", &text)) return false;
      *out = u"Received function " + text;
      return true;
    case napi_object:
    case napi_external:
      if (value.IsArray()) {
        text = u"Array";
      } else {
        Napi::Value constructor = value.As<Napi::Object>().Get("constructor");
        if (constructor.IsEmpty()) return false;
        if (constructor.IsNull() || constructor.IsUndefined()) {
          text = u"Object";
        } else if (!NameProperty(env, constructor.ToObject(), "name", u"Object", &text)) {
          return false;
        }
      }
      *out = u"Received an instance of " + text;
      return true;
    case napi_string:
      text = value.As<Napi::String>().Utf16Value();
      if (text.size() > kMaxShownString) text = text.substr(0, kMaxShownString - 3) + u"...";
      *out = u"Received type string ('" + text + u"')";
      return true;
    case napi_bigint:
      if (!JsString(env, value, &text)) return false;
      *out = u"Received type bigint (" + text + u"n)";
      return true;
    case napi_number:
    case napi_boolean:
    case napi_symbol: {
      const char16_t* type = value.IsNumber()    ? u"number"
                             : value.IsBoolean() ? u"boolean"
                                                 : u"symbol";
      if (!JsString(env, value, &text)) return false;
      *out = Text(u"Received type ") + type + u" (" + text + u")";
      return true;
    }
  }
  *out = u"Received an instance of Object";
  return true;
}

Napi::Value ThrowWithCode(Napi::Error error, const char* code) {
  error.Set("code", Napi::String::New(error.Env(), code));
  error.ThrowAsJavaScriptException();
  return Napi::Value();
}

// Throws a TypeError or RangeError whose message is UTF-16 text.
bool ThrowText(Napi::Env env, bool range, const char* code, const Text& message) {
  napi_value text, error;
  napi_create_string_utf16(env, message.data(), message.size(), &text);
  if (range) {
    napi_create_range_error(env, nullptr, text, &error);
  } else {
    napi_create_type_error(env, nullptr, text, &error);
  }
  ThrowWithCode(Napi::Error(env, error), code);
  return false;
}

// ERR_INVALID_ARG_TYPE: `The "<subject>" argument must be <expected>. Received …`. Always false.
bool InvalidType(Napi::Env env, const std::string& subject, const char* expected,
                 const Napi::Value& value) {
  Text received;
  if (!DescribeReceived(env, value, &received)) return false;
  return ThrowText(env, false, "ERR_INVALID_ARG_TYPE",
                   ToText(env, "The \"" + subject + "\" argument must be " + expected + ". ") +
                       received);
}

// An integer in [min, max]; out of range is ERR_OUT_OF_RANGE with "Received <the number>".
bool IntegerValue(Napi::Env env, const Napi::Value& value, const std::string& subject,
                  int64_t min, int64_t max, int64_t* out) {
  if (!value.IsNumber()) return InvalidType(env, subject, "of type number", value);
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || d < static_cast<double>(min) ||
      d > static_cast<double>(max)) {
    Text shown;
    if (!JsString(env, value, &shown)) return false;
    return ThrowText(env, true, "ERR_OUT_OF_RANGE",
                     ToText(env, "The value of \"" + subject +
                                     "\" is out of range. It must be an integer >= " +
                                     std::to_string(min) + " and <= " + std::to_string(max) +
                                     ". Received ") +
                         shown);
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool NoNulBytes(Napi::Env env, const std::string& subject, const std::string& text) {
  if (text.find('\0') == std::string::npos) return true;
  ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                 "The \"" + subject + "\" argument must not contain null bytes");
  return false;
}

// Calls `visit(item, "name[i]")` for each element of the array argument. The length is read
// once, so a getter that grows the array cannot keep the loop going; an element getter that
// throws leaves its own exception pending.
template <typename Visit>
bool ForEachItem(const Napi::CallbackInfo& info, size_t index, const char* name,
                 const char* expected, Visit visit) {
  if (!info[index].IsArray()) return InvalidType(info.Env(), name, expected, info[index]);
  Napi::Array array = info[index].As<Napi::Array>();
  const uint32_t length = array.Length();
  for (uint32_t i = 0; i < length; i++) {
    Napi::Value item = array.Get(i);
    if (item.IsEmpty()) return false;
    if (!visit(item, std::string(name) + "[" + std::to_string(i) + "]")) return false;
  }
  return true;
}

}  // namespace

Napi::Value ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  return ThrowWithCode(Napi::TypeError::New(env, message), code);
}

Napi::Value ThrowRangeError(Napi::Env env, const char* code, const std::string& message) {
  return ThrowWithCode(Napi::RangeError::New(env, message), code);
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
  return IntegerValue(info.Env(), info[index], name, min, max, out);
}

bool OptionalIntArg(const Napi::CallbackInfo& info, size_t index, const char* name,
                    int64_t fallback, int64_t min, int64_t max, int64_t* out) {
  if (info.Length() <= index || info[index].IsUndefined()) {
    *out = fallback;
    return true;
  }
  return IntArg(info, index, name, min, max, out);
}

bool BoolArg(const Napi::CallbackInfo& info, size_t index, const char* name, bool* out) {
  if (!info[index].IsBoolean()) return InvalidType(info.Env(), name, "of type boolean", info[index]);
  *out = info[index].As<Napi::Boolean>().Value();
  return true;
}

bool FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info[index].IsFunction()) return true;
  return InvalidType(info.Env(), name, "of type function", info[index]);
}

bool BytesArg(const Napi::CallbackInfo& info, size_t index, const char* name,
              Napi::Uint8Array* out) {
  if (info[index].IsTypedArray() &&
      info[index].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    *out = info[index].As<Napi::Uint8Array>();
    return true;
  }
  return InvalidType(info.Env(), name, "an instance of Buffer or Uint8Array", info[index]);
}

bool StringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out) {
  if (!info[index].IsString()) return InvalidType(info.Env(), name, "of type string", info[index]);
  *out = info[index].As<Napi::String>().Utf8Value();
  return NoNulBytes(info.Env(), name, *out);
}

bool StringArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name,
                    std::vector<std::string>* out) {
  Napi::Env env = info.Env();
  return ForEachItem(info, index, name, "an array of strings",
                     [&](const Napi::Value& item, const std::string& subject) {
                       if (!item.IsString()) return InvalidType(env, subject, "of type string", item);
                       out->push_back(item.As<Napi::String>().Utf8Value());
                       return NoNulBytes(env, subject, out->back());
                     });
}

bool IntArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
                 int64_t max, std::vector<int>* out) {
  Napi::Env env = info.Env();
  return ForEachItem(info, index, name, "an array of integers",
                     [&](const Napi::Value& item, const std::string& subject) {
                       int64_t value;
                       if (!IntegerValue(env, item, subject, min, max, &value)) return false;
                       out->push_back(static_cast<int>(value));
                       return true;
                     });
}

}  // namespace posixfork
