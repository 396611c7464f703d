{
  "targets": [
    {
      "target_name": "boxwatch_core",
      "sources": [
        "native/addon.cc",
        "native/bpf_object.cc",
        "native/maps.cc",
        "native/ring_buffer.cc",
        "native/libbpf_log.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lbpf"]
    }
  ]
}
