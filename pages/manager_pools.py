import streamlit as st
st.write('manager_pools')
