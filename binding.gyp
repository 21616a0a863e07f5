{
  "targets": [
    {
      "target_name": "pagecodec",
      "sources": [
        "native/pagecodec.c",
        "native/page-deflate.c",
        "native/pagescan.c",
        "<!(node -p \"require('path').relative(process.cwd(), require('path').join(require('path').dirname(require.resolve('lzo/package.json')), 'lib', 'minilzo209', 'minilzo.c'))\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('path').relative(process.cwd(), require('path').join(require('path').dirname(require.resolve('lzo/package.json')), 'lib', 'minilzo209'))\")"
      ],
      "cflags": ["-O3", "-Wall"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
