revunet_area(train DEPS revunet_nn LIBS ZLIB::ZLIB)
