revunet_area(eval DEPS revunet_data)
