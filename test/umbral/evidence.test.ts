// ReencryptionEvidence / Parameters / CurvePoint / RecoverableSignature against the reference.
import { expect } from "chai";
import secp from "secp256k1";
import * as ref from "@nucypher/umbral-pre";
import * as ours from "../../src/umbral";
import { expectUmbralError, hex, utf8 } from "./helpers";

describe("umbral reencryption evidence", function () {
  this.timeout(60_000);

  it("matches the reference byte for byte and proves what it claims", () => {
    for (let i = 0; i < 8; i++) {
      const alice = ours.SecretKey.random();
      const bob = ours.SecretKey.random();
      const signerSk = ours.SecretKey.random();
      const [capsule] = ours.encrypt(alice.publicKey(), utf8("m"));
      const kfrag = ours.generateKFrags(alice, bob.publicKey(), new ours.Signer(signerSk), 2, 3, i % 2 === 0, true)[0];
      const vcfrag = ours.reencrypt(capsule, kfrag);
      const evidence = new ours.ReencryptionEvidence(capsule, vcfrag, signerSk.publicKey(), alice.publicKey(), bob.publicKey());

      const pk = (k: ours.SecretKey) => ref.PublicKey.fromCompressedBytes(k.publicKey().toCompressedBytes());
      const refCapsule = ref.Capsule.fromBytes(capsule.toBytes());
      const refCfrag = ref.CapsuleFrag.fromBytes(vcfrag.toBytes()).verify(refCapsule, pk(signerSk), pk(alice), pk(bob));
      const refEvidence = new ref.ReencryptionEvidence(refCapsule, refCfrag, pk(signerSk), pk(alice), pk(bob));
      expect(hex(evidence.toBytes())).to.equal(hex(refEvidence.toBytes()));
      expect(hex(ours.ReencryptionEvidence.fromBytes(refEvidence.toBytes()).toBytes())).to.equal(hex(refEvidence.toBytes()));
      expect(hex(evidence.ez.coordinates()![1])).to.equal(hex(refEvidence.ez.coordinates()![1]));
      expect(evidence.kfragSignatureV).to.equal(refEvidence.kfragSignatureV);

      // ecrecover-style check: (hash, r, s, v) yields the signer
      const sig = vcfrag.toFields().proof.kfragSignature;
      const low = secp.signatureNormalize(Uint8Array.from(sig));
      const rsig = ours.RecoverableSignature.fromBEBytes(Uint8Array.of(...low, evidence.kfragSignatureV ? 1 : 0));
      expect(ours.PublicKey.recoverFromPrehash(evidence.kfragValidityMessageHash, rsig).equals(signerSk.publicKey())).to.equal(true);
      const refRecovered = ref.PublicKey.recoverFromPrehash(evidence.kfragValidityMessageHash, ref.RecoverableSignature.fromBEBytes(rsig.toBEBytes()));
      expect(hex(refRecovered.toCompressedBytes())).to.equal(hex(signerSk.publicKey().toCompressedBytes()));
      refEvidence.free();
    }
  });

  it("Parameters.u matches the reference; evidence input errors are typed", () => {
    expect(hex(new ours.Parameters().u.coordinates()![1])).to.equal(hex(new ref.Parameters().u.coordinates()![1]));
    const alice = ours.SecretKey.random();
    const [capsule] = ours.encrypt(alice.publicKey(), utf8("m"));
    const vcfrag = ours.reencrypt(capsule, ours.generateKFrags(alice, alice.publicKey(), new ours.Signer(alice), 1, 1, true, true)[0]);
    expectUmbralError(() => new ours.ReencryptionEvidence(capsule, vcfrag, ours.SecretKey.random().publicKey(), alice.publicKey(), alice.publicKey()), "CFRAG_SIGNATURE_INVALID");
    const bytes = new ours.ReencryptionEvidence(capsule, vcfrag, alice.publicKey(), alice.publicKey(), alice.publicKey()).toBytes();
    expectUmbralError(() => ours.ReencryptionEvidence.fromBytes(bytes.subarray(1)), "INVALID_LENGTH");
    const bad = Uint8Array.from(bytes);
    bad[0] = 0x9f;
    expectUmbralError(() => ours.ReencryptionEvidence.fromBytes(bad), "INVALID_ENCODING");
    expectUmbralError(() => ours.RecoverableSignature.fromBEBytes(new Uint8Array(64)), "INVALID_LENGTH");
  });
});
