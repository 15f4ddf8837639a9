revunet_area(bench DEPS revunet_nn)
