// N-API entry points of the row-wise kernels, the fused LayerNorm (layernorm.h) and the attention softmax
// (elementwise.h), registered by addon.cc.
#pragma once
#include <node_api.h>

// layerNorm(heap, xOff, gammaOff, betaOff, yOff, rows, cols, eps)
napi_value LayerNormCall(napi_env env, napi_callback_info info);
// layerNormGrad(heap, dyOff, xOff, gammaOff, dxOff, dgammaOff, dbetaOff, rows, cols, eps)
napi_value LayerNormGradCall(napi_env env, napi_callback_info info);
// attentionSoftmax(heap, xOff, maskOff, yOff, rows, cols, rowsPerMask, divisor); rowsPerMask 0: no mask
napi_value AttentionSoftmaxCall(napi_env env, napi_callback_info info);
// attentionSoftmaxGrad(heap, yOff, dyOff, dxOff, rows, cols, divisor)
napi_value AttentionSoftmaxGradCall(napi_env env, napi_callback_info info);
