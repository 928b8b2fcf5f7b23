{
  "targets": [
    {
      "target_name": "posix_fork",
      "sources": [
        # module init, argument parsing, errno -> Error, shared helpers
        "native/addon.cc",
        "native/args.cc",
        "native/errno.cc",
        "native/loop_util.cc",
        # fork, the child's runtime, the DONTFORK marks
        "native/fork.cc",
        "native/child_runtime.cc",
        "native/page_marks.cc",
        # waiting, sessions, descriptors, exec
        "native/wait.cc",
        "native/session.cc",
        "native/fds.cc",
        "native/fd_passing.cc",
        "native/exec.cc",
        # signals
        "native/sigchld.cc",
        "native/siginfo.cc",
        "native/signal_reset.cc",
        # the native double fork
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
