# The official siggraph17 forward pass (colorizers/siggraph17.py, BSD-2), at a channel width.
import sys, torch, torch.nn as nn, numpy as np
class SIG(nn.Module):
    def __init__(self, width=1.0, classes=529):
        super().__init__()
        c = lambda n: max(1, int(round(n * width)))
        def convs(cin, cout, n, dil=1):
            layers = []
            for i in range(n):
                layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, 1, dil, dilation=dil), nn.ReLU(True)]
            return layers
        self.model1 = nn.Sequential(*convs(4, c(64), 2), nn.BatchNorm2d(c(64)))
        self.model2 = nn.Sequential(*convs(c(64), c(128), 2), nn.BatchNorm2d(c(128)))
        self.model3 = nn.Sequential(*convs(c(128), c(256), 3), nn.BatchNorm2d(c(256)))
        self.model4 = nn.Sequential(*convs(c(256), c(512), 3), nn.BatchNorm2d(c(512)))
        self.model5 = nn.Sequential(*convs(c(512), c(512), 3, 2), nn.BatchNorm2d(c(512)))
        self.model6 = nn.Sequential(*convs(c(512), c(512), 3, 2), nn.BatchNorm2d(c(512)))
        self.model7 = nn.Sequential(*convs(c(512), c(512), 3), nn.BatchNorm2d(c(512)))
        self.model8up = nn.Sequential(nn.ConvTranspose2d(c(512), c(256), 4, 2, 1))
        self.model3short8 = nn.Sequential(nn.Conv2d(c(256), c(256), 3, 1, 1))
        self.model8 = nn.Sequential(nn.ReLU(True), nn.Conv2d(c(256), c(256), 3, 1, 1), nn.ReLU(True), nn.Conv2d(c(256), c(256), 3, 1, 1), nn.ReLU(True), nn.BatchNorm2d(c(256)))
        self.model9up = nn.Sequential(nn.ConvTranspose2d(c(256), c(128), 4, 2, 1))
        self.model2short9 = nn.Sequential(nn.Conv2d(c(128), c(128), 3, 1, 1))
        self.model9 = nn.Sequential(nn.ReLU(True), nn.Conv2d(c(128), c(128), 3, 1, 1), nn.ReLU(True), nn.BatchNorm2d(c(128)))
        self.model10up = nn.Sequential(nn.ConvTranspose2d(c(128), c(128), 4, 2, 1))
        self.model1short10 = nn.Sequential(nn.Conv2d(c(64), c(128), 3, 1, 1))
        self.model10 = nn.Sequential(nn.ReLU(True), nn.Conv2d(c(128), c(128), 3, 1, 1), nn.LeakyReLU(0.2))
        self.model_class = nn.Sequential(nn.Conv2d(c(256), classes, 1))
        self.model_out = nn.Sequential(nn.Conv2d(c(128), 2, 1), nn.Tanh())
    def forward(self, x):  # x: (B, 4, H, W): (L - 50) / 100, ab hints / 110, mask
        conv1_2 = self.model1(x)
        conv2_2 = self.model2(conv1_2[:, :, ::2, ::2])
        conv3_3 = self.model3(conv2_2[:, :, ::2, ::2])
        conv4_3 = self.model4(conv3_3[:, :, ::2, ::2])
        conv7_3 = self.model7(self.model6(self.model5(conv4_3)))
        conv8_3 = self.model8(self.model8up(conv7_3) + self.model3short8(conv3_3))
        conv9_3 = self.model9(self.model9up(conv8_3) + self.model2short9(conv2_2))
        conv10_2 = self.model10(self.model10up(conv9_3) + self.model1short10(conv1_2))
        return self.model_out(conv10_2)  # ab / 110
if __name__ == "__main__":
    width, out = float(sys.argv[1]), sys.argv[2]
    torch.manual_seed(0)
    m = SIG(width).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5); mod.bias.uniform_(-0.2, 0.2)
    sd = m.state_dict()
    learn = lambda k: "running" not in k and "num_batches" not in k
    print(len(sd), "keys", sum(v.numel() for k, v in sd.items() if learn(k) and not k.startswith("model_class")), "+", sum(v.numel() for k, v in sd.items() if k.startswith("model_class")))
    torch.save(sd, out + ".pth")
    x = torch.rand(1, 4, 40, 56) - 0.5
    with torch.no_grad(): y = m(x)
    np.savez(out + "_io.npz", x=x.numpy(), y=y.numpy())
