revunet_area(nn DEPS revunet_rev)
