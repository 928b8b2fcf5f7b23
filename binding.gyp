{
  "targets": [
    {
      "target_name": "posix_fork",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/fork.cc",
        "native/wait.cc",
        "native/session.cc",
        "native/fds.cc",
        "native/exec.cc",
        "native/sigchld.cc",
        "native/siginfo.cc",
        "native/daemon.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-fvisibility=hidden"],
      "cflags_cc": ["-fvisibility=hidden", "-std=c++17"],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/platform_linux.cc"],
          "ldflags": ["-Wl,-z,now", "-Wl,-z,relro"]
        }],
        ["OS=='mac'", {
          "sources": ["native/platform_darwin.cc"],
          "xcode_settings": {
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "10.15"
          }
        }]
      ]
    }
  ]
}
