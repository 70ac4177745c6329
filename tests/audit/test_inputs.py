import pytest

from faceaudit.audit.inputs import (
    AuditInputError,
    group_templates,
    read_attributes,
    read_lfw_attributes,
    read_pairs_txt,
)


def test_lfw_labels(shared_data):
    lfw = shared_data / "lfw"
    if not lfw.is_dir():
        pytest.skip("LFW not found in ../shared/data (../shared is absent)")
    attrs = read_lfw_attributes(lfw)
    assert len(attrs.labels) == 13233
    assert attrs.labels["Aaron_Eckhart/Aaron_Eckhart_0001.jpg"]["sex"] == "male"
    sexes = [v["sex"] for v in attrs.labels.values()]
    assert 2900 < sexes.count("female") < 3000 and 10100 < sexes.count("male") < 10300
    races = {v["race"] for v in attrs.labels.values()}
    assert "caucasian" in races and None in races
    paths = list(attrs.labels)
    grouping = group_templates(paths, [p.split("/")[0] for p in paths], attrs, ["sex"])
    assert grouping.names == ["female", "male"]
    assert grouping.missing["sex"] == (grouping.codes < 0).sum() < 20


def test_lfw_pairs_txt(shared_data):
    pairs = read_pairs_txt(shared_data / "lfw-meta" / "pairs.txt")
    assert len(pairs) == 6000
    assert pairs[0] == ("Abel_Pacheco", 1, "Abel_Pacheco", 4)
    assert sum(a != b for a, _, b, _ in pairs) == 3000


def test_attributes_by_image_name_and_missing(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("image,sex,age_group\nx_1.jpg,female,adult\nx_2.jpg,,adult\n")
    attrs = read_attributes(path)
    grouping = group_templates(
        ["x/x_1.jpg", "x/x_2.jpg", "y/y.jpg"], ["x", "x", "y"], attrs, ["sex", "age_group"]
    )
    assert grouping.names == ["female|adult"]
    assert list(grouping.codes) == [0, -1, -1]
    with pytest.raises(AuditInputError, match="no attribute 'race'"):
        group_templates(["x/x_1.jpg"], ["x"], attrs, ["race"])
    (tmp_path / "b.csv").write_text("name,sex\nx,female\n")
    with pytest.raises(AuditInputError, match="'identity' or an 'image'"):
        read_attributes(tmp_path / "b.csv")


def test_embeddings_without_identity_are_refused_naming_the_row():
    """A table from `faceaudit embed` over loose files has no identities: no audit can pair its
    templates, so it is refused up front (the row and the column named), not half-read."""
    import numpy as np
    import pyarrow as pa

    from faceaudit.audit.inputs import embeddings_from_table

    vectors = np.eye(3, 4, dtype=np.float32)
    table = pa.table({
        "path": ["a/1.jpg", "a/2.jpg", "b/1.jpg"],
        "identity": ["a", None, "b"],
        "embedding": pa.array(vectors.tolist(), pa.list_(pa.float32())),
    })
    with pytest.raises(AuditInputError, match=r"'identity' is empty on row 2"):
        embeddings_from_table(table, "loose.parquet")
    labelled = table.set_column(1, "identity", pa.array(["a", "a", "b"]))
    emb = embeddings_from_table(labelled, "labelled.parquet")
    assert emb.identities == ["a", "a", "b"] and emb.paths == ["a/1.jpg", "a/2.jpg", "b/1.jpg"]
