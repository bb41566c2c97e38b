{
  "targets": [
    {
      "target_name": "ig_native",
      "sources": [
        "src/addon.c",
        "src/util.c",
        "src/object.c",
        "src/attach.c",
        "src/maps.c",
        "src/reader.c",
        "src/extra.c",
        "src/net.c",
        "src/render.c"
      ],
      "cflags": ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-fvisibility=hidden"],
      "defines": ["_GNU_SOURCE"],
      "libraries": ["-lbpf", "-lelf", "-lz", "-lpthread"]
    }
  ]
}
