// N-API entry points of the row-wise kernels, the fused LayerNorm (layernorm.h), the attention softmax
// (elementwise.h) and the fused self-attention (attention.h), registered by addon.cc.
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
// attention(heap, qkvOff, maskOff, probsOff, contextOff, hasMask, divideQuery, batch, seq, heads, headDim, seed, drop24,
//           divisor)
napi_value AttentionCall(napi_env env, napi_callback_info info);
// attentionGrad(heap, qkvOff, probsOff, dContextOff, dQkvOff, divideQuery, batch, seq, heads, headDim, seed, drop24,
//               divisor)
napi_value AttentionGradCall(napi_env env, napi_callback_info info);
// attentionPrefix(heap, qkvOff, prefixOff, maskOff, probsOff, contextOff, hasMask, prefix, divideQuery, batch, seq, heads,
//                 headDim, seed, drop24, divisor)
napi_value AttentionPrefixCall(napi_env env, napi_callback_info info);
// attentionPrefixGrad(heap, qkvOff, prefixOff, probsOff, dContextOff, dQkvOff, dPrefixOff, prefix, divideQuery, batch, seq,
//                     heads, headDim, seed, drop24, divisor)
napi_value AttentionPrefixGradCall(napi_env env, napi_callback_info info);
