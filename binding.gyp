{
  "targets": [
    {
      "target_name": "pagecodec",
      "actions": [
        {
          "action_name": "cyclodump_shared_header",
          "inputs": ["native/generate-header.js", "<!@(node native/generate-header.js --inputs)"],
          "outputs": ["<(INTERMEDIATE_DIR)/cyclodump-shared.h"],
          "action": ["node", "native/generate-header.js", "<(INTERMEDIATE_DIR)/cyclodump-shared.h"]
        }
      ],
      "sources": [
        "native/pagecodec.c",
        "native/pagescan.c",
        "native/filelock.c",
        "native/readahead.c",
        "native/pagecopy.c"
      ],
      "include_dirs": [
        "<(INTERMEDIATE_DIR)"
      ],
      "libraries": ["-ldeflate", "-llzo2", "<!@(node native/detect-libs.js --libraries)"],
      "cflags": ["-O3", "-Wall"],
      "defines": ["NAPI_VERSION=8", "<!@(node native/detect-libs.js --defines)"]
    }
  ]
}
