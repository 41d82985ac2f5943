# The official eccv16 forward pass (colorizers/eccv16.py, BSD-2), at a channel width, for checks.
import sys, torch, torch.nn as nn, numpy as np
def w(c, width): return max(1, int(round(c * width)))
class ECCV16(nn.Module):
    def __init__(self, width=1.0, q=313):
        super().__init__()
        c = lambda n: w(n, width)
        def block(cin, cout, n, last_stride=1, dil=1):
            layers = []
            for i in range(n):
                s = last_stride if i == n - 1 else 1
                layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride=s, padding=dil, dilation=dil, bias=True), nn.ReLU(True)]
            layers += [nn.BatchNorm2d(cout)]
            return nn.Sequential(*layers)
        self.model1 = block(1, c(64), 2, 2); self.model2 = block(c(64), c(128), 2, 2)
        self.model3 = block(c(128), c(256), 3, 2); self.model4 = block(c(256), c(512), 3)
        self.model5 = block(c(512), c(512), 3, dil=2); self.model6 = block(c(512), c(512), 3, dil=2)
        self.model7 = block(c(512), c(512), 3)
        self.model8 = nn.Sequential(nn.ConvTranspose2d(c(512), c(256), 4, stride=2, padding=1, bias=True), nn.ReLU(True),
            nn.Conv2d(c(256), c(256), 3, 1, 1), nn.ReLU(True), nn.Conv2d(c(256), c(256), 3, 1, 1), nn.ReLU(True),
            nn.Conv2d(c(256), q, 1, 1, 0, bias=True))
        self.softmax = nn.Softmax(dim=1)
        self.model_out = nn.Conv2d(q, 2, 1, padding=0, dilation=1, stride=1, bias=False)
        self.upsample4 = nn.Upsample(scale_factor=4, mode="bilinear")
    def forward(self, l):
        x = self.model1(l); x = self.model2(x); x = self.model3(x); x = self.model4(x)
        x = self.model5(x); x = self.model6(x); x = self.model7(x); x = self.model8(x)
        return self.upsample4(self.model_out(self.softmax(x)))   # ab / 110
if __name__ == "__main__":
    width, out = float(sys.argv[1]), sys.argv[2]
    torch.manual_seed(0)
    m = ECCV16(width).eval()
    with torch.no_grad():   # randomise the batch-norm statistics too
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5); mod.bias.uniform_(-0.2, 0.2)
    sd = m.state_dict(); print(len(sd), "keys", sum(v.numel() for k, v in sd.items() if "running" not in k and "num_batches" not in k))
    torch.save(sd, out + ".pth")
    x = torch.rand(1, 1, 40, 56) - 0.5
    with torch.no_grad(): y = m(x)
    np.savez(out + "_io.npz", x=x.numpy(), y=y.numpy())
