"""The preset zlib dictionary of model-file format version 3.

A model file's metadata is a few hundred bytes of JSON that is mostly the same from file to
file: key names, default hyperparameters, class names. Compressed on its own it costs about
800 bytes, as much as 6,400 mask bits; compressed against this dictionary (a typical document
of each estimator, with the digests and data removed) it costs about 150. The dictionary is
part of the format: a version-3 file can only be read with exactly these bytes, so they must
never change (a test checks their SHA-256); a different dictionary needs a new format version.
"""

#: preset dictionary of the format-3 payload (zlib ``zdict``); never edit
ZDICT_V3 = (
    '"linear_base":"ridge","norm":"layer_plain","output_gate",true,"base_lags_":24,"base_alpha_":0.00'
    '1,["attr.base_coef_","<f2",[168,7]],["attr.base_intercept_","<f2",[7]],"rice","$float","$tuple",'
    '"$scalar","$array"{"meta":{"format_version":3,"versions":{"sbt_sklearn":"0.1.0.dev0","torch":"2.'
    '13.0","numpy":"2.4.6"},"estimator":"SBTClassifier","params":{"attention":"qkv_mask","batch_size"'
    ':32,"binary":true,"callbacks":null,"class_weight":null,"d":64,"d_ff":256,"device":"cpu","early_s'
    'topping":false,"lr":"auto","max_epochs":1,"missing":"raise","n_heads":2,"n_iter_no_change":10,"n'
    '_layers":2,"norm":"batch","p":0.5,"p_max":0.9,"pals":false,"pals_gamma":1.1,"pals_interval":20,"'
    'pals_lambda":1.1,"pos_encoding":"fixed","random_state":0,"topk_scope":"layer","validation_fracti'
    'on":0.1,"verbose":0},"attributes":{"n_features_in_":3,"n_channels_":3,"n_timesteps_":16,"seed_":'
    '209652396,"n_epochs_":1,"p_":0.5,"pals_history_":[]},"network":{"sparse_layers":{"n":14,"p":0.5,'
    '"keep_override":null,"coding":"bbbbbbbbbbbbbb","rice_k":[],"rice_nbytes":[]},"regenerated_sha256'
    '":"","network_p":0.5,"scores":false,"module":"SBTClassificationNet","kwargs":{"$dict":[["d",64],'
    '["n_heads",2],["n_layers",2],["d_ff",256],["p",0.5],["binary",true],["attention","qkv_mask"],["n'
    'orm","batch"],["pos_encoding","fixed"],["max_len",16],["topk_scope","layer"],["seed",1297106410]'
    ',["n_channels",3],["n_classes",2]]},"criterion":"CrossEntropyLoss","criterion_kwargs":{"$dict":['
    ']}}},"tensors":[["attr.classes_","<i8",[2]],["attr.scaler_mean_","<f4",[3]],["attr.scaler_scale_'
    '","<f4",[3]],["state.encoder.layers.0.norm1.weight","<f4",[64]],["state.encoder.layers.0.norm1.b'
    'ias","<f4",[64]],["state.encoder.layers.0.norm1.running_mean","<f4",[64]],["state.encoder.layers'
    '.0.norm1.running_var","<f4",[64]],["state.encoder.layers.0.norm2.weight","<f4",[64]],["state.enc'
    'oder.layers.0.norm2.bias","<f4",[64]],["state.encoder.layers.0.norm2.running_mean","<f4",[64]],['
    '"state.encoder.layers.0.norm2.running_var","<f4",[64]],["state.encoder.layers.1.norm1.weight","<'
    'f4",[64]],["state.encoder.layers.1.norm1.bias","<f4",[64]],["state.encoder.layers.1.norm1.runnin'
    'g_mean","<f4",[64]],["state.encoder.layers.1.norm1.running_var","<f4",[64]],["state.encoder.laye'
    'rs.1.norm2.weight","<f4",[64]],["state.encoder.layers.1.norm2.bias","<f4",[64]],["state.encoder.'
    'layers.1.norm2.running_mean","<f4",[64]],["state.encoder.layers.1.norm2.running_var","<f4",[64]]'
    ',["sbt.masks","|u1",[12328]]]}{"meta":{"format_version":3,"versions":{"sbt_sklearn":"0.1.0.dev0"'
    ',"torch":"2.13.0","numpy":"2.4.6"},"estimator":"SBTAnomalyDetector","params":{"attention":"step_'
    't","batch_size":128,"binary":true,"callbacks":null,"contamination":0.01,"d":64,"d_ff":256,"devic'
    'e":"cpu","early_stopping":false,"error_weighting":"continuous","level":0.98,"loss":"squared","lr'
    '":"auto","max_epochs":1,"max_windows_per_epoch":10000,"missing":"raise","n_heads":2,"n_iter_no_c'
    'hange":5,"n_layers":2,"norm":"none","p":0.5,"p_max":0.9,"pals":false,"pals_gamma":1.1,"pals_inte'
    'rval":20,"pals_lambda":1.1,"pos_encoding":"fixed","q":0.001,"random_state":0,"target":"predict",'
    '"threshold":"quantile","topk_scope":"layer","validation_fraction":0.1,"verbose":0},"attributes":'
    '{"n_features_in_":5,"n_channels_":5,"n_timesteps_":50,"seed_":209652396,"n_epochs_":1,"p_":0.5,"'
    'pals_history_":[],"threshold_":3.163824078708597,"offset_":-3.163824078708597},"network":{"spars'
    'e_layers":{"n":14,"p":0.5,"keep_override":null,"coding":"bbbbbbbbbbbbbb","rice_k":[],"rice_nbyte'
    's":[]},"regenerated_sha256":"","network_p":0.5,"scores":false,"module":"SBTLastStepNet","kwargs"'
    ':{"$dict":[["d",64],["n_heads",2],["n_layers",2],["d_ff",256],["p",0.5],["binary",true],["attent'
    'ion","step_t"],["norm","none"],["pos_encoding","fixed"],["max_len",50],["topk_scope","layer"],["'
    'seed",1297106410],["n_channels",5],["n_outputs",5]]},"criterion":"MSELoss","criterion_kwargs":{"'
    '$dict":[]}}},"tensors":[["attr.scaler_mean_","<f4",[5]],["attr.scaler_scale_","<f4",[5]],["attr.'
    'channel_weights_","<f8",[5]],["sbt.masks","|u1",[12368]]]}{"meta":{"format_version":3,"versions"'
    ':{"sbt_sklearn":"0.1.0.dev0","torch":"2.13.0","numpy":"2.4.6"},"estimator":"SBTForecaster","para'
    'ms":{"attention":"step_t","base_alpha":"auto","base_lags":"auto","batch_size":128,"binary":true,'
    '"callbacks":null,"d":64,"d_ff":256,"device":"cpu","early_stopping":false,"linear_base":null,"lr"'
    ':"auto","max_epochs":1,"max_windows_per_epoch":null,"missing":"raise","n_heads":2,"n_iter_no_cha'
    'nge":3,"n_layers":2,"norm":"layer","p":0.5,"p_max":0.9,"pals":false,"pals_gamma":1.1,"pals_inter'
    'val":20,"pals_lambda":1.1,"pos_encoding":"fixed","random_state":0,"target":"relative","topk_scop'
    'e":"layer","validation_fraction":0.1,"verbose":0},"attributes":{"n_features_in_":5,"n_channels_"'
    ':5,"n_timesteps_":50,"_y_1d":false,"seed_":209652396,"base_lags_":0,"base_alpha_":null,"base_coe'
    'f_":null,"base_intercept_":null,"n_epochs_":1,"p_":0.5,"pals_history_":[]},"network":{"sparse_la'
    'yers":{"n":14,"p":0.5,"keep_override":null,"coding":"bbbbbbbbbbbbbb","rice_k":[],"rice_nbytes":['
    ']},"regenerated_sha256":"","network_p":0.5,"scores":false,"module":"SBTLastStepNet","kwargs":{"$'
    'dict":[["d",64],["n_heads",2],["n_layers",2],["d_ff",256],["p",0.5],["binary",true],["attention"'
    ',"step_t"],["norm","layer"],["pos_encoding","fixed"],["max_len",51],["topk_scope","layer"],["see'
    'd",1297106410],["n_channels",5],["n_outputs",5],["output_gate",false]]},"criterion":"MSELoss","c'
    'riterion_kwargs":{"$dict":[]}}},"tensors":[["attr.scaler_mean_","<f4",[5]],["attr.scaler_scale_"'
    ',"<f4",[5]],["state.encoder.layers.0.norm1.weight","<f4",[64]],["state.encoder.layers.0.norm1.bi'
    'as","<f4",[64]],["state.encoder.layers.0.norm2.weight","<f4",[64]],["state.encoder.layers.0.norm'
    '2.bias","<f4",[64]],["state.encoder.layers.1.norm1.weight","<f4",[64]],["state.encoder.layers.1.'
    'norm1.bias","<f4",[64]],["state.encoder.layers.1.norm2.weight","<f4",[64]],["state.encoder.layer'
    's.1.norm2.bias","<f4",[64]],["sbt.masks","|u1",[12368]]]}'
).encode("ascii")

#: SHA-256 of :data:`ZDICT_V3`
ZDICT_V3_SHA256 = "f155a5c103bfdb4bbb5bb86ef96f326a64123c3c0eb01dced6e58ac396d30f07"
