"""Writes a small CIFAR-10 and a small CIFAR-100 folder in the real binary format,
independently of the C code, and the arrays they must decode to.

Folders: <argv[1] without .h5>_data/cifar10 and .../cifar100. Random pixels,
random labels (CIFAR-100's coarse byte is drawn independently of the fine one,
so a reader that derives it would be caught), uneven batch sizes.
HDF5: /c10/{train,test}/{images (N,32,32,3) HWC uint8, labels},
/c100/{train,test}/{images, labels, coarse}, and /c100/coarse_of (the dataset's
fine -> coarse mapping, a second transcription checked against the C table)."""
import os
import shutil
import sys

import numpy as np

from common import setup

C10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

C100_FINE = """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can
castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin elephant
flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree
motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate
poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider
squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle
wardrobe whale willow_tree wolf woman worm""".split()

C100_COARSE = """aquatic_mammals fish flowers food_containers fruit_and_vegetables household_electrical_devices
household_furniture insects large_carnivores large_man-made_outdoor_things large_natural_outdoor_scenes
large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles small_mammals trees
vehicles_1 vehicles_2""".split()

# Coarse class of each fine class, from the dataset's own train.bin records.
C100_COARSE_OF = [4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
                  6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
                  5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
                  10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
                  16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13]


def records(head, images):
    """head: (N, k) label bytes; images: (N, 32, 32, 3) HWC -> bytes of N records of planar RGB."""
    planar = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([head.astype(np.uint8), planar], axis=1).tobytes()


def main():
    h5 = setup()
    assert len(C100_FINE) == 100 and len(C100_COARSE) == 20
    root = os.path.splitext(sys.argv[1])[0] + "_data"
    shutil.rmtree(root, ignore_errors=True)
    c10, c100 = os.path.join(root, "cifar10"), os.path.join(root, "cifar100")
    os.makedirs(c10)
    os.makedirs(c100)

    # CIFAR-10: five train batches of different sizes, read back in batch order.
    sizes = np.random.randint(1, 13, size=5)
    parts = []
    for b, n in enumerate(sizes):
        images = np.random.randint(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        labels = np.random.randint(0, 10, size=n)
        with open(os.path.join(c10, f"data_batch_{b + 1}.bin"), "wb") as f:
            f.write(records(labels[:, None], images))
        parts.append((images, labels))
    h5.create_dataset("c10/train/images", data=np.concatenate([p[0] for p in parts]))
    h5.create_dataset("c10/train/labels", data=np.concatenate([p[1] for p in parts]).astype(np.int32))
    n = np.random.randint(1, 13)
    images = np.random.randint(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    labels = np.random.randint(0, 10, size=n)
    with open(os.path.join(c10, "test_batch.bin"), "wb") as f:
        f.write(records(labels[:, None], images))
    h5.create_dataset("c10/test/images", data=images)
    h5.create_dataset("c10/test/labels", data=labels.astype(np.int32))
    # The distributed file ends with blank lines; the reader must accept them.
    with open(os.path.join(c10, "batches.meta.txt"), "w") as f:
        f.write("\n".join(C10_NAMES) + "\n\n")

    for split in ("train", "test"):
        n = np.random.randint(1, 25)
        images = np.random.randint(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
        fine = np.random.randint(0, 100, size=n)
        coarse = np.random.randint(0, 20, size=n)
        with open(os.path.join(c100, f"{split}.bin"), "wb") as f:
            f.write(records(np.stack([coarse, fine], axis=1), images))
        h5.create_dataset(f"c100/{split}/images", data=images)
        h5.create_dataset(f"c100/{split}/labels", data=fine.astype(np.int32))
        h5.create_dataset(f"c100/{split}/coarse", data=coarse.astype(np.int32))
    with open(os.path.join(c100, "fine_label_names.txt"), "w") as f:
        f.write("\n".join(C100_FINE) + "\n")
    with open(os.path.join(c100, "coarse_label_names.txt"), "w") as f:
        f.write("\n".join(C100_COARSE) + "\n")
    h5.create_dataset("c100/coarse_of", data=np.array(C100_COARSE_OF, dtype=np.int32))
    h5.close()


if __name__ == "__main__":
    main()
