revunet_area(core LIBS ZLIB::ZLIB)
