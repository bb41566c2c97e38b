{
  "variables": {
    "ig_sources": [
      "src/addon.c",
      "src/libbpf_log.c",
      "src/napi_helpers.c",
      "src/object.c",
      "src/signals_held.c",
      "src/attach.c",
      "src/maps.c",
      "src/reader.c",
      "src/batch_pool.c",
      "src/ring_drain.c",
      "src/prog_stats.c",
      "src/raw_socket_filter.c",
      "src/line_output.c",
      "src/render_plan.c",
      "src/memo_source.c",
      "src/render_buffer.c",
      "src/render_pieces.c",
      "src/render_width.c",
      "src/joined_strings.c",
      "src/metrics_agg.c",
      "src/deadline.cc",
      "src/pcap_filter.c",
      "src/pcap_compile.c",
      "src/wire_batch.c",
      "src/wire_stream.c",
      "src/wire_lean.c",
      "src/replay_render.c",
      "src/replay_loop.c",
      "src/record_writer.c",
      "src/record_codec.c",
      "src/iter_run.c",
      "src/iter_target.c",
      "src/netns_enter.c",
      "src/clean_pages.c",
      "src/heap_trim.c"
    ],
    "ig_cflags": ["-O2", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-fvisibility=hidden"],
    "ig_libraries": ["-lbpf", "-lelf", "-lz", "-lpthread", "-lzstd", "-ldl"]
  },
  "targets": [
    {
      "target_name": "ig_native",
      "sources": ["<@(ig_sources)"],
      "cflags": ["<@(ig_cflags)"],
      "cflags_c": ["-std=gnu11"],
      "defines": ["_GNU_SOURCE"],
      "libraries": ["<@(ig_libraries)"]
    },
    {
      "target_name": "ig_native_test",
      "sources": ["<@(ig_sources)"],
      "cflags": ["<@(ig_cflags)"],
      "cflags_c": ["-std=gnu11"],
      "defines": ["_GNU_SOURCE", "IG_TEST_HOOKS"],
      "libraries": ["<@(ig_libraries)"]
    }
  ]
}
