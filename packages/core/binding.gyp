{
  "targets": [
    {
      "target_name": "boxwatch_core",
      "variables": {
        # Static, -fPIC libbpf + libelf + zlib built from the pinned libbpf-sys crate (built once,
        # then cached): the addon then needs nothing but glibc at run time.
        "libbpf_dir": "<!(bash scripts/build-libbpf.sh <(target_arch))"
      },
      "sources": [
        "native/addon.cc",
        "native/bpf_object.cc",
        "native/maps.cc",
        "native/ring_buffer.cc",
        "native/libbpf_log.cc"
      ],
      # Our libbpf's headers first: they must match the archive, not a system libbpf-dev.
      "include_dirs": ["<(libbpf_dir)/include", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": [
        "<(libbpf_dir)/lib/libbpf.a",
        "<(libbpf_dir)/lib/libelf.a",
        "<(libbpf_dir)/lib/libz.a"
      ],
      # Keep the embedded libraries' symbols private, so the addon never clashes with another
      # libbpf/libelf/zlib already loaded in the process. libstdc++/libgcc_s stay shared: node
      # itself links them, so they are in every process that loads us, and a static libstdc++
      # (GCC 12) would raise the glibc floor from 2.34 to 2.36 (arc4random).
      "ldflags": ["-Wl,--exclude-libs,ALL"]
    }
  ]
}
