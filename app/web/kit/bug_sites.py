"""Where each planted bug of engine.bugs opens, per lab (``LabSpec.bug_sites``; app.web.kit.bugs).

A site is the lab link the bug opens on — a state on which the mistake shows — and the page's arrays
(their ``data-arr``) where the mistake is made (marking one finds it) or that are wrong only because of
it. The bugs of one lab open on one link where they can, so the link says nothing of which it is.
Only keys and names here: engine.bugs is not imported.
"""

from __future__ import annotations

from app.web.kit.bugs import BugSite

CONV_LINK = ("v=1&x=1x1x5x5:1,-2,3,0,2,4,1,-1,2,0,-3,2,5,1,-2,0,1,-1,3,2,2,-2,0,1,4"
             "&w=1x1x3x3:1,2,0,-1,0,1,0,3,-2&b=1:0.5&stride=1&pad=0&dout=random:3&tab=backward")
POOL_LINK = "v=1&x=1x1x4x4:1,3,2,2,3,0,1,0,5,5,4,1,5,5,0,4&pool=max&size=2&stride=2&dout=random:2"
NORM_BN = ("x=4x3:1,10,0.5,3,4,0.502,-2,7,1.5,0.5,6,-1&gamma=3:2,0.5,1&beta=3:0.5,-1,0&running_mean=3:0,0,0"
           "&running_var=3:1,1,1&dout=random:4&mode=train&eps=1e-05&convention=pytorch")
OPTIM_LINK = ("v=1&opt=adam,lr:0.01,beta1:0.9,beta2:0.995,eps:1e-07,eps_placement:outside,bias_correction:on,"
              "weight_decay:0&names=w1,w2,b0,b1,conv1&theta=5:0.5,0.3,0.2,-0.1,0.8&gmode=typed"
              "&g=1x5:0.02,0.01,0.01,-0.03,0.05&k=1&j=1&surface=ill_conditioned&start=-4.5,1.5&r1=sgd,lr:0.075"
              "&r2=momentum,lr:0.02,momentum:0.9,form:pytorch&r3=rmsprop,lr:0.05,alpha:0.99,eps:1e-08"
              "&r4=adam,lr:0.3,beta1:0.9,beta2:0.999,eps:1e-08,eps_placement:outside,bias_correction:on,weight_decay:0"
              "&N=150&speed=60&t=0")
SOFTMAX_LINK = "v=1&logits=2x3:1000,999,0,3,-2,-100&labels=2:0,0&temperature=1"
# a small network with a residual block (flatten → linear 8 → residual[linear 8, ReLU] → linear 10), batch 4, two
# steps into training, on the block's backward (op b:2): dx_skip, dx_branch and their sum dx side by side; small
# enough that its whole-network gradient check fits a request (NetworkState's compact link)
NETWORK_LINK = ("v=1&z=eNqVT9sKgzAM_Zr2SUbtJoqQF9l_jLhms1BraePAv183ZQ9jDHzLybnk5AGlHCdDDkTdCa2tDzNf0oCBMmpF1ZVFUzSiOh"
                "cZO1wopo1YDbxsSq1vDpnJ50nUWf5NO-sJYx5eSbO3_A5qfmojJWtmdJv6_919wW5eC-aXdtQs1cciDTKCsfdMyR75OsBJJiIDSk"
                "6BAQ2O0kVQB3WUiSmAznvoW_0EVLVmWg")

SITES: dict[str, dict[str, BugSite]] = {
    "conv": {
        "conv-flip": BugSite(CONV_LINK, found=("out",)),
        "conv-dx-unrotated": BugSite(CONV_LINK, found=("dx",)),
        "col2im-assign": BugSite(CONV_LINK, found=("dx",)),
    },
    "pool": {
        "maxpool-all-ties": BugSite(POOL_LINK, found=("dx",)),
        "relu-mask-ge": BugSite(POOL_LINK, found=("relu_mask",), follows=("relu_dx",),
                                names={"mask": "relu_mask", "dx": "relu_dx"}),
    },
    "norm": {
        "bn-no-mean-path": BugSite("v=1&tab=bn&" + NORM_BN, found=("dx",)),
        "bn-unbiased-train": BugSite("v=1&tab=bn&" + NORM_BN, found=("var",),
                                     follows=("std", "x_hat", "out", "dx", "dx_compact", "dgamma")),
        "dropout-no-scale": BugSite("v=1&tab=dropout&" + NORM_BN + "&p=0.5&p_means=drop&drop_seed=0",
                                    found=("drop_out",), follows=("drop_dx",),
                                    names={"out": "drop_out", "dx": "drop_dx", "mask": "drop_mask"}),
    },
    "optim": {
        "adam-no-bias-correction": BugSite(OPTIM_LINK, found=("m_hat", "v_hat"),
                                           follows=("update", "theta", "effective_step", "denom")),
    },
    "softmax": {
        "softmax-no-max": BugSite(SOFTMAX_LINK, found=("exp", "probs"), follows=("nll", "loss", "dlogits")),
        "ce-no-mean": BugSite(SOFTMAX_LINK, found=("dlogits",)),
    },
    "network": {
        "residual-overwrite": BugSite(NETWORK_LINK, found=("dx",)),
    },
}
